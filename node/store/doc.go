// Package store is the node's datastore (docs/architecture.md §7): go-datastore is the interface
// everywhere, and [Open] returns it over an embedded pebble engine (go-ds-pebble) with
// every write fsynced, so what a storage confirmation promises is on disk before it is
// signed (docs/protocol.md §5). The key layout lives in keys.go, as typed constructors.
//
// # Why pebble (measured 2026-11-22)
//
// Candidates: go-ds-pebble v0.5.13, go-ds-flatfs v0.6.1 (sync=true, one file per value)
// and go-ds-leveldb v0.5.3 (syncWrites=true), each configured for durable writes. The
// benchmark is node/store/dsbench, a separate module so the main module does not depend
// on flatfs or leveldb:
//
//	cd node/store/dsbench && go test -run '^$' -bench . -benchtime 2s
//
// Machine: 2-core Xeon VM at 2.5 GHz, virtual disk, shared with other builds (load
// average ≈ 13 during the runs), so expect ±40% between runs; ranges are over 2–3 runs.
// MB/s unless marked; "16 writers" is b.RunParallel with 16 goroutines doing durable Puts,
// as when many clients push slivers at once. pebble+vsep is pebble with
// [WithValueSeparation](4 KiB).
//
//	workload                          pebble        pebble+vsep   flatfs        leveldb
//	synced Put 64 KiB, 1 writer       12–73         50–85         8–12          18–22
//	synced Put 256 KiB, 1 writer      38–83         54–85         39–40         43–50
//	synced Put 4 MiB, 1 writer        47–62         69–85         117–142       20–44
//	synced Put 64 KiB, 16 writers     73–116        96–158        20–67         26–32
//	synced Put 256 KiB, 16 writers    133–195       120–193       64–131        71–110
//	synced Put 4 MiB, 16 writers      123–139       74–115        225–372       42–63
//	Get 64 KiB (random, 64 MiB set)   606           463           213           208
//	Get 256 KiB                       907           750           192           143
//	Get 4 MiB                         407           394           206           238
//	1000×128 B keys, one synced batch 265k keys/s   232k keys/s   0.9k keys/s   116k keys/s
//	one 128 B key, synced Put         1.3k keys/s   4.3k keys/s   150 keys/s    538 keys/s
//	SIGKILL mid-write, reopen         every acknowledged write present, batches atomic,
//	                                  no torn values (TestCrashSafety; pebble only)
//
// Reading the table: flatfs wins only on large values written concurrently (one file per
// value, no WAL double write), and loses badly on everything else a node does — small
// keys (ledger, blob state: 300× slower), reads (2–4× slower), and it cannot hold our key
// layout at all (flatfs keys are one upper-case segment, and its queries are unordered,
// while shard sync walks /shards/<s>/ in blob-ID order). leveldb is slower than pebble
// everywhere. Sliver sizes favour pebble too: at n = 1000 a primary sliver is ≈ blob/334
// and a secondary ≈ blob/667, so blobs up to ~1 GiB produce slivers of 64 KiB–3 MiB,
// where pebble matches or beats flatfs; pebble's WAL also group-commits concurrent writers
// into one fsync. One engine for ledger, metadata and slivers also gives atomic batches
// across them. Value separation (pebble experimental) helps small concurrent writes and
// hurts large ones here; it stays opt-in.
//
// # Slivers are ingested (2026-12-04)
//
// The table above predates the node's data path. Measured end to end since (make bench-e2e,
// README, Performance): a sliver batch written through the WAL is written twice (WAL, then a
// flush) and, in the memtable, copied twice more. Now a batch of at least [MinIngestBytes]
// is built into an sstable and ingested ([PutDurably]), written once; its pair markers follow
// in an ordinary batch so that none is durable before its slivers. Smaller writes (ledger,
// metadata, markers) keep the WAL path. [DefaultMemTableSize] and the L0 thresholds in
// store.go are set for this workload, each with the measurement that chose it.
//
// Which ingested tables stay in the page cache is a [PagePolicy] (node config
// `datastore.written_pages`, ingest.go). On the benchmark VM, whose host backs guest memory
// on first touch, writing slivers into fresh page cache was a quarter of the nodes' CPU in
// make bench-big's upload window; dropping a table's pages once pebble has it lets the next
// table reuse them at a tenth of the cost. Dropping every table made a read soon after the
// store come from disk (the cold read of 1 GiB: 4.6 -> 7.2 s), so by default only tables
// of values marked [KV.Cold] go: the writer (node/blobstore) marks every sliver but the
// systematic primaries, which are what reads fetch, so two thirds of a blob's sliver bytes
// leave the cache and reads of fresh blobs stay warm.
//
// Pebble allocates its block buffers and memtables with C calloc. Open tunes glibc's malloc
// (malloc_cgo.go) to keep freed blocks' memory instead of trimming it back to the kernel:
// otherwise every sliver block pebble reads (its ingestion reads each new table's first and
// last block) lands in fresh pages the kernel zeroes, 12% of the machine's CPU in make
// bench-big's upload window (TestOpenKeepsFreedBlockMemory).
//
// The test TestCrashSafety runs a child process that writes with sync (ingesting every
// fifth write) and is SIGKILLed at a seeded point; the parent reopens and checks every
// acknowledged write. With [WithoutSync] the same test loses acknowledged writes, which is
// why Open syncs.
package store
