using Marten;

namespace NotificationService.Core.Offers;

/// <summary>How offers are stored: the core's Marten configuration for them, and the upgrade test's.</summary>
public static class OfferStorage
{
    /// <summary>The metadata index's storage parameter for its pending list, and its value in kB (below; read by its test).</summary>
    internal const string PendingListLimit = "gin_pending_list_limit";
    internal const int PendingListLimitKb = 64;

    public static StoreOptions AddOfferStorage(this StoreOptions opts)
    {
        // The service and the creation time as columns (Marten's duplicated fields), in one index: GET /v1/offers reads its
        // service's range in the page's order instead of walking every service's offers by time, and no offer insert runs
        // mt_immutable_timestamptz for an index (bench/README.md, "Offers by service and time"). Through the mapping, as
        // Schema.For().Duplicate would also index each column alone, which nothing reads.
        opts.Policies.ForAllDocuments(mapping =>
        {
            if (mapping.DocumentType != typeof(Offer)) return;
            mapping.DuplicateField(nameof(Offer.ServiceId));
            mapping.DuplicateField(nameof(Offer.CreatedAt));
        });
        // Optimistic: a PATCH or DELETE that loaded the offer before an erasure must not write its old metadata back. A
        // loaded offer is written back with Update, never Store: Store is an upsert even so, and its insert would bring
        // back an offer the retention sweep deleted meanwhile, without its jobs.
        opts.Schema.For<Offer>().UseOptimisticConcurrency(true)
            .Index([x => x.ServiceId, x => x.CreatedAt, x => x.Id], i => i.Name = "mt_doc_offer_idx_service_created")
            // ?metadata.<key>=<value> on jobs, and on offers with several pairs (one pair: OfferMetadataIndex): containment
            // (@>) on exactly this expression. New entries wait in GIN's unsorted pending list until a vacuum, or the insert
            // that fills it, merges them, and every search reads the whole list: up to 4 MB by default, which took the job
            // searches by metadata from 3 to 13-20 ms. 64 kB (the least PostgreSQL takes) keeps both the read and the merge
            // small (bench/README.md, "The metadata index's pending list").
            .GinIndexJsonDataMember(x => x.Metadata!, i => i.StorageParameters[PendingListLimit] = PendingListLimitKb);
        return opts.AddOfferMetadataIndex();
    }
}
