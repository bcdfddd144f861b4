//! The ceiling of `npm run bench`: the benchmark's workloads run with the `mongodb` crate directly —
//! no napi, no JavaScript — to show what the server and the driver allow on this machine. The Node
//! side spawns it once per measurement:
//!
//!     bench-ceiling <uri> '<request as JSON>'
//!
//! and reads one JSON object from stdout. Requests mirror the JS contenders: the same collections,
//! documents and pool size, and a `database(name)` per operation as a multi-tenant server does.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, oid::ObjectId, Document};
use futures_util::TryStreamExt;
use mongodb::options::ClientOptions;
use mongodb::Client;
use serde::Deserialize;
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const POOL: u32 = 10;
/// The collection every workload reads and writes.
const ITEMS: &str = "items";

#[derive(Deserialize)]
#[serde(tag = "workload", rename_all = "camelCase")]
enum Request {
    /// `database(name)` over cached names; then `database(name)` + find_one on them and on new ones.
    #[serde(rename_all = "camelCase")]
    Switching { hot: Vec<String>, cold: Vec<String>, iterations: usize, finds: usize },
    /// One operation kind at a concurrency, for `ms` after a warm-up: ops, CPU and wall time.
    #[serde(rename_all = "camelCase")]
    Cpu { tenants: Vec<String>, op: Op, concurrency: usize, warm_ms: u64, ms: u64 },
    /// `count` databases `<prefix><i>` read once each, `concurrency` at a time: time and RSS growth
    /// over the run and over its second half.
    #[serde(rename_all = "camelCase")]
    Tenants { prefix: String, count: usize, concurrency: usize },
    /// The bulk tasks' floor on the driver's batches, as raw BSON: `export` writes the source's
    /// documents to `file` end to end, `import` inserts those of `file` into the target, `copy` reads
    /// the source's and inserts them into the target, 1,000 a batch, one batch at a time.
    Bulk { task: BulkTask, source: String, target: String, file: String },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum BulkTask {
    Export,
    Import,
    Copy,
}

#[derive(Deserialize, Clone, Copy)]
enum Op {
    #[serde(rename = "findOne")]
    FindOne,
    #[serde(rename = "insertOne")]
    InsertOne,
    #[serde(rename = "find100")]
    Find100,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri, request] = args.as_slice() else {
        return Err("usage: bench-ceiling <uri> '<request JSON>'".into());
    };
    let mut options = ClientOptions::parse(uri).await?;
    options.max_pool_size = Some(POOL);
    let client = Client::with_options(options)?;
    let result = match serde_json::from_str(request)? {
        Request::Switching { hot, cold, iterations, finds } => switching(&client, &hot, &cold, iterations, finds).await?,
        Request::Cpu { tenants, op, concurrency, warm_ms, ms } => {
            let ids = Arc::new(read_ids(&client, &tenants).await?);
            let tenants = Arc::new(tenants);
            run_for(&client, &tenants, &ids, op, concurrency, Duration::from_millis(warm_ms)).await?;
            let (cpu, started) = (cpu_micros(), Instant::now());
            let ops = run_for(&client, &tenants, &ids, op, concurrency, Duration::from_millis(ms)).await?;
            json!({ "ops": ops, "cpuUs": cpu_micros() - cpu, "wallMs": started.elapsed().as_secs_f64() * 1e3 })
        }
        Request::Tenants { prefix, count, concurrency } => {
            client.database("admin").run_command(doc! { "ping": 1 }).await?;
            // Two halves, as the Node contenders read them: the second half's RSS growth is what each
            // tenant keeps once the process has grown to its working size.
            let (rss, started) = (rss_bytes()?, Instant::now());
            let next = Arc::new(AtomicUsize::new(0));
            read_tenants(&client, &prefix, &next, count / 2, concurrency).await?;
            let half = rss_bytes()?;
            read_tenants(&client, &prefix, &next, count, concurrency).await?;
            let end = rss_bytes()?;
            json!({ "ms": started.elapsed().as_secs_f64() * 1e3, "rssGrowth": end - rss, "rssSecondHalf": end - half })
        }
        Request::Bulk { task, source, target, file } => {
            let started = Instant::now();
            bulk(&client, task, &source, &target, &file).await?;
            json!({ "ms": started.elapsed().as_secs_f64() * 1e3, "peakRssMB": peak_rss_bytes() as f64 / 1e6 })
        }
    };
    println!("{result}");
    client.shutdown().await;
    Ok(())
}

async fn switching(client: &Client, hot: &[String], cold: &[String], iterations: usize, finds: usize) -> Result<Value> {
    let missing = doc! { "_id": ObjectId::new() };
    for name in hot {
        client.database(name).collection::<Document>(ITEMS).find_one(missing.clone()).await?;
    }
    let started = Instant::now();
    let mut names = 0;
    for i in 0..iterations {
        names += std::hint::black_box(client.database(&hot[i % hot.len()]).collection::<Document>(ITEMS)).name().len();
    }
    let switch_ns = started.elapsed().as_nanos() as f64 / iterations as f64;
    std::hint::black_box(names);
    let started = Instant::now();
    for i in 0..finds {
        client.database(&hot[i % hot.len()]).collection::<Document>(ITEMS).find_one(missing.clone()).await?;
    }
    let hot_find_us = started.elapsed().as_secs_f64() * 1e6 / finds as f64;
    let started = Instant::now();
    for name in cold {
        client.database(name).collection::<Document>(ITEMS).find_one(missing.clone()).await?;
    }
    let cold_ms = started.elapsed().as_secs_f64() * 1e3 / cold.len() as f64;
    Ok(json!({ "switchNs": switch_ns, "hotFindUs": hot_find_us, "coldMs": cold_ms }))
}

/// The first 100 `_id`s of each tenant's read collection, for point reads.
async fn read_ids(client: &Client, tenants: &[String]) -> Result<Vec<Vec<ObjectId>>> {
    let mut all = Vec::with_capacity(tenants.len());
    for name in tenants {
        let items = client.database(name).collection::<Document>(ITEMS);
        let docs: Vec<Document> = items.find(doc! {}).projection(doc! { "_id": 1 }).limit(100).await?.try_collect().await?;
        all.push(docs.iter().map(|d| d.get_object_id("_id")).collect::<std::result::Result<_, _>>()?);
    }
    Ok(all)
}

/// `concurrency` workers run `op` until `duration` is up, each op on the next tenant in turn; the number
/// of ops done.
async fn run_for(
    client: &Client,
    tenants: &Arc<Vec<String>>,
    ids: &Arc<Vec<Vec<ObjectId>>>,
    op: Op,
    concurrency: usize,
    duration: Duration,
) -> Result<usize> {
    let deadline = Instant::now() + duration;
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, tenants, ids, next) = (client.clone(), tenants.clone(), ids.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let t = n % tenants.len();
                    let db = client.database(&tenants[t]);
                    match op {
                        Op::FindOne => {
                            let id = ids[t][(n / tenants.len()) % ids[t].len()];
                            db.collection::<Document>(ITEMS).find_one(doc! { "_id": id }).await?;
                        }
                        Op::InsertOne => {
                            db.collection::<Document>(ITEMS).insert_one(document(n)).await?;
                        }
                        Op::Find100 => {
                            let docs: Vec<Document> = db.collection::<Document>(ITEMS).find(doc! {}).limit(100).await?.try_collect().await?;
                            std::hint::black_box(docs);
                        }
                    }
                }
                Ok::<_, mongodb::error::Error>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(next.load(Ordering::Relaxed))
}

/// The benchmark's document, as `bench/contenders.mjs` writes it.
fn document(n: usize) -> Document {
    doc! {
        "n": n as i64,
        "name": format!("user {n}"),
        "email": format!("user{n}@example.com"),
        "score": (n % 100) as f64 / 3.0,
        "tags": ["alpha", "beta", "gamma"],
        "active": n % 2 == 0,
        "createdAt": bson::DateTime::now(),
    }
}

async fn bulk(client: &Client, task: BulkTask, source: &str, target: &str, file: &str) -> Result<()> {
    use std::io::{BufReader, BufWriter, Read, Write};
    let from = client.database(source).collection::<bson::RawDocumentBuf>(ITEMS);
    let to = client.database(target).collection::<bson::RawDocumentBuf>(ITEMS);
    match task {
        BulkTask::Export => {
            let mut out = BufWriter::new(std::fs::File::create(file)?);
            let mut cursor = from.find(doc! {}).await?;
            while cursor.advance().await? {
                out.write_all(cursor.current().as_bytes())?;
            }
            out.flush()?;
        }
        BulkTask::Import => {
            let mut input = BufReader::new(std::fs::File::open(file)?);
            let mut batch = Vec::with_capacity(1000);
            loop {
                let mut length = [0u8; 4];
                if input.read(&mut length[..1])? == 0 {
                    break;
                }
                input.read_exact(&mut length[1..])?;
                let mut bytes = vec![0u8; i32::from_le_bytes(length) as usize];
                bytes[..4].copy_from_slice(&length);
                input.read_exact(&mut bytes[4..])?;
                batch.push(bson::RawDocumentBuf::from_bytes(bytes)?);
                if batch.len() == 1000 {
                    to.insert_many(std::mem::take(&mut batch)).await?;
                }
            }
            if !batch.is_empty() {
                to.insert_many(batch).await?;
            }
        }
        BulkTask::Copy => {
            let mut cursor = from.find(doc! {}).await?;
            let mut batch = Vec::with_capacity(1000);
            while cursor.advance().await? {
                batch.push(cursor.current().to_owned());
                if batch.len() == 1000 {
                    to.insert_many(std::mem::take(&mut batch)).await?;
                }
            }
            if !batch.is_empty() {
                to.insert_many(batch).await?;
            }
        }
    }
    Ok(())
}

/// The process's peak resident set (ru_maxrss), in bytes.
fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given; RUSAGE_SELF cannot fail.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as u64 * 1024
}

/// User + system CPU time of the whole process (every thread), in µs.
fn cpu_micros() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given; RUSAGE_SELF cannot fail.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Resident set size, from /proc/self/statm (pages).
/// Reads databases `{prefix}{i}` for the `i` taken from `next` below `end`, `concurrency` at a time.
async fn read_tenants(client: &Client, prefix: &str, next: &Arc<AtomicUsize>, end: usize, concurrency: usize) -> Result<()> {
    let workers = (0..concurrency).map(|_| {
        let (client, prefix, next) = (client.clone(), prefix.to_owned(), next.clone());
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, mongodb::error::Error>(());
                }
                let items = client.database(&format!("{prefix}{i}")).collection::<Document>(ITEMS);
                items.find_one(doc! { "_id": ObjectId::new() }).await?;
            }
        })
    });
    for worker in workers.collect::<Vec<_>>() {
        worker.await??;
    }
    Ok(())
}

fn rss_bytes() -> Result<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: i64 = statm.split_whitespace().nth(1).ok_or("no RSS in /proc/self/statm")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    Ok(pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64)
}
