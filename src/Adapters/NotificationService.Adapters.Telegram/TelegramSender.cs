using System.Text.Json;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Telegram;

public sealed record TelegramConfig(string BotToken, string? ApiBaseUrl = null, bool AllowPrivateNetwork = false);

/// <summary>Sends through the Telegram Bot API with the official client, one pooled HTTP client per worker.</summary>
public sealed class TelegramSender : IChannelSender, IDisposable
{
    private readonly HttpClient _http;
    private readonly TelegramBotClient _bot;

    // The client would sleep through flood waits itself, holding the job and a worker slot; the job's retry policy
    // waits instead (Telegram's retry_after becomes the job's next attempt time).
    public TelegramSender(TelegramConfig config)
    {
        _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));
        _bot = new TelegramBotClient(new TelegramBotClientOptions(config.BotToken, config.ApiBaseUrl?.TrimEnd('/')) { RetryThreshold = 0, RetryCount = 0 }, _http);
    }

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        var p = delivery.Params;
        ChatId chat = p.GetProperty("chatId") is { ValueKind: JsonValueKind.Number } id ? new ChatId(id.GetInt64()) : new ChatId(p.GetProperty("chatId").GetString()!);
        var parseMode = p.TryGetProperty("parseMode", out var mode) ? Enum.Parse<ParseMode>(mode.GetString()!, ignoreCase: true) : ParseMode.None;
        var silent = p.TryGetProperty("disableNotification", out var quiet) && quiet.GetBoolean();
        try
        {
            var message = await _bot.SendMessage(chat, p.GetProperty("text").GetString()!, parseMode, disableNotification: silent, cancellationToken: cancellation);
            return new DeliveryResult.Delivered($"{message.Chat.Id}/{message.MessageId}");
        }
        catch (ApiRequestException e) when (e.ErrorCode == 429 || e.ErrorCode >= 500)
        {
            // Flood control: Telegram says how long to wait, and that wait replaces our own backoff.
            return new DeliveryResult.Transient(Rejected(e),
                e.Parameters?.RetryAfter is { } seconds ? TimeSpan.FromSeconds(seconds) : null, HttpOutcomes.Excerpt(e.Message));
        }
        catch (ApiRequestException e)
        {
            // 400 (chat not found, bad markup), 401 (bad token), 403 (bot blocked by the user): retrying will not help.
            return new DeliveryResult.Permanent(Rejected(e), HttpOutcomes.Excerpt(e.Message));
        }
        catch (Exception e) when (HttpOutcomes.Classify(e, cancellation) is { } result)
        {
            return result;
        }
        catch (RequestException e)
        {
            return new DeliveryResult.Transient($"Telegram request failed: {e.Message}");
        }
    }

    /// <summary>The classified reason; Telegram's own description is provider text and goes to the operator's detail.</summary>
    private static string Rejected(ApiRequestException e) =>
        $"Telegram answered {e.ErrorCode} {Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(e.ErrorCode)}".TrimEnd() + ".";

    public void Dispose() => _http.Dispose();
}
