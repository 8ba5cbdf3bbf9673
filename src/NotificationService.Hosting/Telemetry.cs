using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using JasperFx;
using JasperFx.OpenTelemetry;
using JasperFx.CodeGeneration;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Logging;
using Wolverine.Runtime;
using Wolverine.Runtime.Handlers;

namespace NotificationService.Hosting;

/// <summary>
/// OpenTelemetry for the core and every worker, configured by the standard <c>OTEL_*</c> settings. Metrics are always
/// collected (a few static counters) and served at <c>/metrics</c> for Prometheus; they are also pushed over OTLP when
/// an endpoint is set. Traces are built only when something exports them (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, or
/// <c>Telemetry:Tracing</c> = true for an exporter added in code): with no tracer provider, Wolverine, Marten, Npgsql and
/// ASP.NET Core find no listener on their sources and create no spans, so tracing costs nothing when it is off.
/// </summary>
public static class Telemetry
{
    /// <summary>The attribute naming the job on every span that concerns one.</summary>
    public const string JobIdTag = "ns.job_id";

    /// <summary>The attribute naming the offer on the span of the request that created it (POST /v1/offers).</summary>
    public const string OfferIdTag = "ns.offer_id";

    private static readonly AsyncLocal<Guid?> Job = new();

    /// <summary>
    /// The job the code running from here on (in this async flow) works for: every span started in it is tagged with the
    /// job id, whatever started it. Spans' parents alone do not carry it: Marten parents its connection span on the
    /// current span's parent, by id, so neither that span nor the Npgsql spans under it see the job's span as an object.
    /// Set it in an async method: the flow gets its previous value back when the method returns.
    /// </summary>
    public static void WorkingFor(Guid? jobId) => Job.Value = jobId;

    /// <summary>
    /// Tags the span of the HTTP request (the server span), not whatever span is current: an endpoint runs under the
    /// spans its loading started, and Marten's are parented by id, so the request's span is not reachable from them.
    /// </summary>
    public static void TagRequest(HttpContext http, string tag, object value) =>
        http.Features.Get<IHttpActivityFeature>()?.Activity.SetTag(tag, value);

    /// <summary>The job <see cref="WorkingFor"/> named in this flow, if any.</summary>
    public static Guid? CurrentJob => Job.Value;

    /// <summary>The service's own spans (a worker's batched commit of several jobs' events), and its meter's name.</summary>
    public const string SourceName = JobMetrics.MeterName;

    /// <summary>The sources one job's trace is made of: the request, the outbox and broker hops, the database, the provider call.</summary>
    public static TracerProviderBuilder AddNotificationTracing(this TracerProviderBuilder tracing) => tracing
        .AddSource(SourceName, "Wolverine", "Marten", "Npgsql")
        // Probes and scrapes are not traffic worth a trace.
        .AddAspNetCoreInstrumentation(o => o.Filter = http => http.Request.Path != "/metrics" && http.Request.Path != "/health")
        .AddHttpClientInstrumentation()
        .AddProcessor(new JobIdPropagation())
        // Before any exporter (they are added after this): a processor's OnEnd runs in the order processors were added.
        .AddProcessor(new OutboundUrlRedaction());

    public static IHostApplicationBuilder AddNotificationTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        var configuration = builder.Configuration;
        // The SDK's OTLP exporter reads these itself (and OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, ...); here they only decide
        // whether a signal is exported at all.
        var tracesOtlp = Exports(configuration, "TRACES");
        var metricsOtlp = Exports(configuration, "METRICS");
        var otel = builder.Services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME, when set, names the process; the default resource detectors read it.
            .ConfigureResource(r => { if (configuration["OTEL_SERVICE_NAME"] is not { Length: > 0 }) r.AddService(serviceName); })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(JobMetrics.MeterName, "Wolverine*", "Marten", "Npgsql")
                    .AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddRuntimeInstrumentation()
                    .AddView(BoundedCardinality)
                    .AddPrometheusExporter();
                if (metricsOtlp) metrics.AddOtlpExporter();
            });
        if (tracesOtlp || configuration.GetValue("Telemetry:Tracing", false))
            otel.WithTracing(tracing =>
            {
                // The sampler is the SDK's: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parent-based, always on).
                tracing.AddNotificationTracing();
                if (tracesOtlp) tracing.AddOtlpExporter();
            });

        // Marten's spans per session and its appended-events counter; connection spans only when a listener exists.
        builder.Services.ConfigureMarten(opts =>
        {
            opts.OpenTelemetry.TrackConnections = TrackLevel.Normal;
            opts.OpenTelemetry.TrackEventCounters();
        });
        builder.Services.ConfigureWolverine(opts =>
        {
            opts.Policies.Add(new TagJobIds());
            // Every sending endpoint, those created at runtime (the adapter queues) too: endpoint policies reach them.
            opts.Policies.Add(new LambdaEndpointPolicy<Wolverine.Configuration.Endpoint>((endpoint, _) =>
            {
                if (!endpoint.OutgoingRules.OfType<RememberJobSends>().Any()) endpoint.OutgoingRules.Add(new RememberJobSends());
            }));
        });
        return builder;
    }

    /// <summary>
    /// The most series one instrument keeps where its tags cannot name a tenant, an adapter, a remote host or a message
    /// type: the runtime's, the database client's, Marten's and ASP.NET Core's own (the largest, routing, has one series
    /// per route and outcome, about 90 routes). The SDK allocates a stream's whole limit of data points up front, 2,000
    /// of them (144 KB) by default, for each of the process's 80-odd instruments; past the limit a stream adds its
    /// measurements to one overflow series (<c>otel_metric_overflow="true"</c>) instead of a series of their own. A view
    /// also keeps these streams out of OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION (README: Operations).
    /// </summary>
    public const int BoundedSeriesPerInstrument = 200;

    /// <summary>
    /// Meters whose instruments keep the SDK's default limit: their tags name services and adapters (ours), message types
    /// and queues (Wolverine's), remote hosts (the HTTP client's, the resolver's: a callback URL is any tenant's host), or
    /// every route by method and status (the server's request duration).
    /// </summary>
    private static readonly string[] OpenEndedMeters = [JobMetrics.MeterName, "Wolverine", "Microsoft.AspNetCore.Hosting", "System.Net.Http", "System.Net.NameResolution"];

    private static MetricStreamConfiguration? BoundedCardinality(Instrument instrument) =>
        OpenEndedMeters.Any(m => instrument.Meter.Name.StartsWith(m, StringComparison.Ordinal))
            ? null
            : new MetricStreamConfiguration { CardinalityLimit = BoundedSeriesPerInstrument };

    /// <summary>
    /// Prometheus' scrape endpoint. Its series name service ids and their volumes, so with <c>Telemetry:MetricsKey</c> set
    /// it answers only <c>Authorization: Bearer &lt;key&gt;</c> (Prometheus' <c>authorization</c> scrape setting); unset, it
    /// is open, for a port only the scraper reaches (README: Operations).
    /// </summary>
    public static IEndpointConventionBuilder MapNotificationMetrics(this IEndpointRouteBuilder app)
    {
        var key = app.ServiceProvider.GetRequiredService<IConfiguration>()["Telemetry:MetricsKey"] is { Length: > 0 } k
            ? Encoding.UTF8.GetBytes("Bearer " + k) : null;
        return app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: key is null ? null : branch => branch.Use(
            (context, next) =>
            {
                if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), key)) return next(context);
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return Task.CompletedTask;
            }), optionsName: null);
    }

    /// <summary>
    /// A signal (TRACES, METRICS) goes over OTLP when an endpoint is set for all signals or for it, unless
    /// OTEL_&lt;signal&gt;_EXPORTER is <c>none</c> (the spec's values; only otlp is served here).
    /// </summary>
    private static bool Exports(IConfiguration configuration, string signal) =>
        (configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 } || configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"] is { Length: > 0 })
        && !string.Equals(configuration[$"OTEL_{signal}_EXPORTER"], "none", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Every handler of a message that names a job (a <c>JobId</c> member: DeliverJob, a cancellation, a callback
    /// delivery, an expiry) tags its span with the job id, in the generated handler code (Wolverine's audit members).
    /// </summary>
    private sealed class TagJobIds : IHandlerPolicy
    {
        public void Apply(IReadOnlyList<HandlerChain> chains, GenerationRules rules, IServiceContainer container)
        {
            foreach (var chain in chains)
                if (chain.MessageType.GetProperty("JobId", BindingFlags.Public | BindingFlags.Instance) is { PropertyType: var type } member
                    && type == typeof(Guid) && chain.AuditedMembers.All(a => a.Member != member))
                    chain.AuditedMembers.Add(new AuditedMember(member, "JobId", JobIdTag));
        }
    }

    /// <summary>
    /// An outbound URL's path and query can be a credential: Telegram's Bot API puts the bot token in the path
    /// (<c>/bot&lt;token&gt;/sendMessage</c>), Slack-style webhooks and status callback URLs carry their secret in the path
    /// or the query. So an HTTP client span keeps only scheme, host and port (<c>url.full</c>, <c>server.*</c>), whichever
    /// instrumentation made it (the runtime's own on .NET 9+, or the DiagnosticListener one) and whichever attribute
    /// names it used.
    /// </summary>
    private sealed class OutboundUrlRedaction : BaseProcessor<Activity>
    {
        private static readonly string[] Urls = ["url.full", "http.url"];
        private static readonly string[] PathAndQuery = ["url.path", "url.query", "http.target", "url.fragment"];

        public override void OnEnd(Activity activity)
        {
            // Every client span, whatever made it (the runtime's HttpClient source, the DiagnosticListener instrumentation,
            // a library of its own): inbound (server) spans keep their route, which is ours and holds no secret.
            if (activity.Kind != ActivityKind.Client) return;
            foreach (var name in Urls)
                if (activity.GetTagItem(name) is string url)
                    activity.SetTag(name, Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority) : null);
            foreach (var name in PathAndQuery) activity.SetTag(name, null);
        }
    }

    /// <summary>
    /// The job of each outgoing envelope whose message names one, by envelope id, from routing until its send span ends.
    /// Wolverine's send span (the outbox's hand-over, in the sending request's or handler's flow) is started from the
    /// envelope and tagged only with its own metadata, and one request sends many jobs' messages, so neither the current
    /// job nor the parent span can tell which job a send is for; the envelope id on the span can. Bounded: an entry
    /// whose span never ends here (a sampled-out span reaches no processor, a send that failed first) must not make it grow
    /// for ever: when it is full, the entries older than <see cref="SendingTtl"/> go (no send stays in flight that long);
    /// the young ones, sends still under way, are kept, and a send that finds it full of young ones is not remembered.
    /// </summary>
    private static readonly ConcurrentDictionary<Guid, (Guid JobId, long At)> Sending = new();
    /// <summary>Sending's size, kept beside it: ConcurrentDictionary.Count takes every bucket lock, once per outgoing envelope.</summary>
    private static int _sendingCount;
    private const int MaxSending = 10_000;
    private static readonly long SendingTtl = TimeSpan.FromMinutes(5).Ticks / TimeSpan.TicksPerMillisecond;

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> JobIdMembers = new();

    /// <summary>The <c>JobId</c> of a message that names a job (the rule <see cref="TagJobIds"/> applies to handlers).</summary>
    private static Guid? JobIdOf(object? message) =>
        message is null ? null
        : JobIdMembers.GetOrAdd(message.GetType(), type => type.GetProperty("JobId", BindingFlags.Public | BindingFlags.Instance) is { PropertyType: var t } p && t == typeof(Guid) ? p : null)
            ?.GetValue(message) as Guid?;

    /// <summary>Remembers which job an outgoing envelope is for, while anything listens to Wolverine's spans.</summary>
    private sealed class RememberJobSends : IEnvelopeRule
    {
        public void Modify(Envelope envelope)
        {
            if (!WolverineTracing.ActivitySource.HasListeners() || JobIdOf(envelope.Message) is not { } jobId) return;
            var now = Environment.TickCount64;
            if (Volatile.Read(ref _sendingCount) >= MaxSending)
                foreach (var (id, entry) in Sending)
                    if (now - entry.At > SendingTtl) Forget(id);
            if (Volatile.Read(ref _sendingCount) < MaxSending && Sending.TryAdd(envelope.Id, (jobId, now))) Interlocked.Increment(ref _sendingCount);
        }
    }

    private static bool Forget(Guid envelopeId, out (Guid JobId, long At) sent)
    {
        if (!Sending.TryRemove(envelopeId, out sent)) return false;
        Interlocked.Decrement(ref _sendingCount);
        return true;
    }

    private static void Forget(Guid envelopeId) => Forget(envelopeId, out _);

    /// <summary>
    /// Spans started inside a job's handler (the provider's HTTP call, the database round trips) carry its job id, and a
    /// job-tagged span passes the id up to the Wolverine span around it (the receive span), so a search by job finds them all.
    /// </summary>
    private sealed class JobIdPropagation : BaseProcessor<Activity>
    {
        public override void OnStart(Activity activity)
        {
            if ((Job.Value ?? activity.Parent?.GetTagItem(JobIdTag)) is { } jobId) activity.SetTag(JobIdTag, jobId);
        }

        public override void OnEnd(Activity activity)
        {
            // Wolverine's send span of a job's message (the outbox's hand-over to the broker's sending agent).
            if (activity.Kind == ActivityKind.Producer && activity.Source.Name == "Wolverine"
                && activity.GetTagItem(WolverineTracing.MessagingMessageId) is Guid envelopeId && Forget(envelopeId, out var sent))
                activity.SetTag(JobIdTag, sent.JobId);
            if (activity.GetTagItem(JobIdTag) is { } jobId && activity.Parent is { } parent && parent.Source.Name == "Wolverine"
                && parent.GetTagItem(JobIdTag) is null)
                parent.SetTag(JobIdTag, jobId);
        }
    }
}
