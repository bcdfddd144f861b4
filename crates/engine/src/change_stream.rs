//! Change streams the engine keeps going: each runs in a task of its own on its cluster's stream
//! client (so a getMore waiting for changes never holds a connection operations are admitted to),
//! keeps the latest resume token, and resumes by itself after a resumable error or after the
//! deployment went away and came back, with no change lost or repeated (Change Streams
//! specification, "Resume Process"). Changes wait in a bounded queue for the application to read
//! them; while the queue is full the stream asks the server for nothing more.
//!
//! A stream holds its pool open (it is never closed as idle or evicted) and counts against
//! `maxOpenStreams`. Closing it, closing its database's streams, or closing the wrapper ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bson::{Bson, Document, RawDocumentBuf};
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::{ChangeStreamOptions, FullDocumentBeforeChangeType, FullDocumentType};
use mongodb::options::{Collation, ReadConcern};
use tokio::sync::{mpsc, watch};

use crate::cluster::{Anchoring, Lease};
use crate::error::Error;
use crate::logging::Log;
use crate::namespace::Namespace;
use crate::session::is_primary;
use crate::sync::Mutex;

/// Changes (and resume tokens) a stream holds for its reader before it stops asking for more.
const QUEUE: usize = 256;
/// At most this many changes, or this many bytes, per batch handed to the reader.
const MAX_BATCH: usize = 1000;
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Waits between attempts to resume, doubling up to the last.
const FIRST_RESUME_DELAY: Duration = Duration::from_millis(100);
const MAX_RESUME_DELAY: Duration = Duration::from_secs(5);

/// The server error codes that mean a change stream may resume (the specification's list, for
/// servers that do not label them `ResumableChangeStreamError`): HostUnreachable, HostNotFound,
/// NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit, SocketException,
/// NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
/// NotPrimaryOrSecondary, StaleShardVersion, StaleEpoch, StaleConfig, RetryChangeStream,
/// FailedToSatisfyReadPreference, CursorNotFound.
const RESUMABLE_CODES: [i32; 18] =
    [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133, 43];

/// What to watch for: a pipeline of stages after `$changeStream`, and its options.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub pipeline: Vec<Document>,
    pub options: ChangeStreamOptions,
}

impl WatchRequest {
    /// Whether the request names no start point (`resumeAfter`, `startAfter`,
    /// `startAtOperationTime`): the stream starts where it opens.
    pub fn unanchored(&self) -> bool {
        starts_nowhere(&self.options)
    }

    /// `{ pipeline: [stage, ...], options: { ... } }`, the options in the Node driver's
    /// ChangeStreamOptions shape (see [`change_stream_options`]). Errors: `InvalidArgument`.
    pub fn decode(doc: &Document) -> Result<Self, Error> {
        let pipeline = match doc.get("pipeline") {
            None | Some(Bson::Null) => Vec::new(),
            Some(Bson::Array(stages)) => stages
                .iter()
                .map(|stage| match stage {
                    Bson::Document(stage) => Ok(stage.clone()),
                    _ => Err(Error::InvalidArgument("a change stream's pipeline is an array of stages".into())),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Error::InvalidArgument("a change stream's pipeline is an array of stages".into())),
        };
        let options = match doc.get("options") {
            None | Some(Bson::Null) => ChangeStreamOptions::default(),
            Some(Bson::Document(options)) => change_stream_options(options)?,
            Some(_) => return Err(Error::InvalidArgument("change stream options are an object".into())),
        };
        Ok(WatchRequest { pipeline, options })
    }
}

/// A change stream's options as the Node driver takes them: `fullDocument`,
/// `fullDocumentBeforeChange`, `resumeAfter`, `startAfter` (resume tokens), `startAtOperationTime` (a
/// Timestamp), `maxAwaitTimeMS`, `batchSize`, `collation`, `showExpandedEvents`, `readConcern`, and
/// `readPreference` when it is the primary's. Errors: `InvalidArgument` for any other option or a
/// value of the wrong type: none is left out. `comment` is refused: the Rust driver (mongodb 3.9)
/// serializes it into the `$changeStream` stage as well as the `aggregate` command, and the server
/// refuses the stage (40415 IDLUnknownField).
pub fn change_stream_options(doc: &Document) -> Result<ChangeStreamOptions, Error> {
    let mut options = ChangeStreamOptions::default();
    let token = |key: &str, value: &Bson| {
        bson::deserialize_from_bson::<ResumeToken>(value.clone()).map_err(|_| invalid_option(key))
    };
    for (key, value) in doc {
        match (key.as_str(), value) {
            (_, Bson::Null | Bson::Undefined) => {}
            ("fullDocument", Bson::String(mode)) => {
                options.full_document = Some(match mode.as_str() {
                    "default" => continue,
                    "updateLookup" => FullDocumentType::UpdateLookup,
                    "whenAvailable" => FullDocumentType::WhenAvailable,
                    "required" => FullDocumentType::Required,
                    _ => return Err(invalid_option(key)),
                })
            }
            ("fullDocumentBeforeChange", Bson::String(mode)) => {
                options.full_document_before_change = Some(match mode.as_str() {
                    "off" => FullDocumentBeforeChangeType::Off,
                    "whenAvailable" => FullDocumentBeforeChangeType::WhenAvailable,
                    "required" => FullDocumentBeforeChangeType::Required,
                    _ => return Err(invalid_option(key)),
                })
            }
            ("resumeAfter", Bson::Document(_)) => options.resume_after = Some(token(key, value)?),
            ("startAfter", Bson::Document(_)) => options.start_after = Some(token(key, value)?),
            ("startAtOperationTime", Bson::Timestamp(ts)) => options.start_at_operation_time = Some(*ts),
            ("maxAwaitTimeMS", n) => options.max_await_time = Some(Duration::from_millis(whole(key, n)?)),
            ("batchSize", n) => {
                options.batch_size = Some(u32::try_from(whole(key, n)?).map_err(|_| invalid_option(key))?)
            }
            ("collation", Bson::Document(c)) => {
                options.collation =
                    Some(bson::deserialize_from_document::<Collation>(c.clone()).map_err(|_| invalid_option(key))?)
            }
            ("comment", _) => {
                return Err(Error::InvalidArgument(
                    "change stream option \"comment\" is not supported: the Rust driver would send it inside the \
                     $changeStream stage, which the server refuses"
                        .into(),
                ))
            }
            ("showExpandedEvents", Bson::Boolean(b)) => options.show_expanded_events = Some(*b),
            ("readConcern", Bson::Document(rc)) => match rc.get("level") {
                Some(Bson::String(level)) => options.read_concern = Some(ReadConcern::custom(level)),
                None => {}
                Some(_) => return Err(invalid_option(key)),
            },
            ("readConcern", Bson::String(level)) => options.read_concern = Some(ReadConcern::custom(level)),
            ("readPreference", pref) if is_primary(pref) => {}
            ("readPreference", _) => {
                return Err(Error::InvalidArgument(
                    "change streams read from the primary here: readPreference must be 'primary'".into(),
                ))
            }
            (
                "fullDocument"
                | "fullDocumentBeforeChange"
                | "resumeAfter"
                | "startAfter"
                | "startAtOperationTime"
                | "collation"
                | "showExpandedEvents"
                | "readConcern",
                _,
            ) => return Err(invalid_option(key)),
            _ => return Err(Error::InvalidArgument(format!("change stream option {key:?} is not supported"))),
        }
    }
    if options.resume_after.is_some() && options.start_after.is_some() {
        return Err(Error::InvalidArgument("a change stream takes resumeAfter or startAfter, not both".into()));
    }
    Ok(options)
}

fn whole(key: &str, n: &Bson) -> Result<u64, Error> {
    let n = match n {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    };
    n.and_then(|n| u64::try_from(n).ok()).ok_or_else(|| invalid_option(key))
}

fn invalid_option(key: &str) -> Error {
    Error::InvalidArgument(format!("invalid value for change stream option {key:?}"))
}

/// Whether a stream that failed with `error` may be opened again where it stopped: a network error,
/// a deployment not (yet) selectable, a pool cleared or a client shut down (its database moved to
/// another pool), or a server error the specification calls resumable.
fn resumable(error: &Error) -> bool {
    let Error::Driver(e) = error else { return false };
    match e.kind.as_ref() {
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::ServerSelection { .. } => true,
        ErrorKind::Shutdown => true,
        ErrorKind::Command(c) => e.contains_label("ResumableChangeStreamError") || RESUMABLE_CODES.contains(&c.code),
        _ => false,
    }
}

/// One change, or a newer resume token with no change (a batch that came back empty).
#[derive(Debug)]
pub struct Change {
    /// The change event as the server sent it.
    pub event: Option<RawDocumentBuf>,
    /// The token to resume after this change: the one `resumeTokenChanged` reports.
    pub token: ResumeToken,
}

impl Change {
    fn bytes(&self) -> usize {
        self.event.as_ref().map_or(0, |e| e.as_bytes().len())
    }
}

enum Item {
    Change(Change),
    Failed(Error),
}

struct Reader {
    queue: mpsc::Receiver<Item>,
    /// A failure read after changes still to hand over: reported by the next batch.
    failed: Option<Error>,
}

/// An open change stream on one database or collection.
pub struct Watch {
    db: String,
    reader: tokio::sync::Mutex<Reader>,
    /// Set to true to stop the stream's task; dropping the sender stops it too.
    closed: watch::Sender<bool>,
    /// Whether the stream's task still runs (it ends on close, on a failure it cannot resume from,
    /// and when the server ends the stream, after an invalidate event).
    running: Arc<AtomicBool>,
}

impl Watch {
    /// The database the stream watches (or whose collection it watches).
    pub fn db(&self) -> &str {
        &self.db
    }

    /// Whether the stream was closed (rather than ended by itself or by a failure).
    pub fn closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Whether the stream still runs: neither closed nor ended.
    pub fn is_open(&self) -> bool {
        !*self.closed.borrow() && self.running.load(Ordering::Acquire)
    }

    /// The next changes, as many as are waiting (at least one, up to 1,000 or 8 MB), after waiting
    /// up to `wait` (without limit when `None`) for the first: `Ok(Some(changes))`, possibly empty
    /// when `wait` ran out; `Ok(None)` once the stream is closed or ended. Errors: the failure that
    /// ended the stream (a server error that is not resumable: a bad pipeline, lost history...),
    /// reported once, after the changes before it.
    pub async fn next_batch(&self, wait: Option<Duration>) -> Result<Option<Vec<Change>>, Error> {
        let mut reader = self.reader.lock().await;
        if let Some(error) = reader.failed.take() {
            return Err(error);
        }
        let mut closed = self.closed.subscribe();
        let first = tokio::select! {
            _ = closed.wait_for(|closed| *closed) => return Ok(None),
            item = reader.queue.recv() => item,
            () = sleep_or_never(wait) => return Ok(Some(Vec::new())),
        };
        if *self.closed.borrow() {
            return Ok(None);
        }
        let mut changes = Vec::new();
        let mut bytes = 0;
        let mut next = first;
        while let Some(item) = next {
            match item {
                Item::Change(change) => {
                    bytes += change.bytes();
                    changes.push(change);
                }
                Item::Failed(error) if changes.is_empty() => return Err(error),
                Item::Failed(error) => {
                    reader.failed = Some(error);
                    break;
                }
            }
            if changes.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES {
                break;
            }
            next = reader.queue.try_recv().ok();
        }
        Ok(if changes.is_empty() { None } else { Some(changes) })
    }

    /// Closes the stream and waits for its task to end (its server cursor is then killed by the
    /// driver). Closing a closed stream does nothing.
    pub async fn close(&self) {
        self.closed.send_replace(true);
        let mut reader = self.reader.lock().await;
        reader.queue.close();
        while reader.queue.recv().await.is_some() {}
    }
}

async fn sleep_or_never(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// The streams a wrapper opened and has not dropped.
#[derive(Default)]
pub struct Watches {
    live: Mutex<Vec<Weak<Watch>>>,
}

impl Watches {
    /// Starts a stream of `request` on `ns` (a database or a collection); nothing is sent until the
    /// returned task runs, which the caller spawns on the runtime. Errors: `StreamLimit` when
    /// `max_open` streams are open.
    pub(crate) fn open(
        &self,
        ns: Namespace,
        request: WatchRequest,
        max_open: u32,
        log: Log,
    ) -> Result<(Arc<Watch>, impl std::future::Future<Output = ()> + Send + 'static), Error> {
        let (sender, queue) = mpsc::channel(QUEUE);
        let (closed, stop) = watch::channel(false);
        let running = Arc::new(AtomicBool::new(true));
        let watch = Arc::new(Watch {
            db: ns.db.clone(),
            reader: tokio::sync::Mutex::new(Reader { queue, failed: None }),
            closed,
            running: running.clone(),
        });
        {
            let mut live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            live.retain(|w| w.upgrade().is_some_and(|w| w.is_open()));
            if live.len() >= max_open as usize {
                return Err(Error::StreamLimit { max: max_open });
            }
            live.push(Arc::downgrade(&watch));
        }
        // Operations started after `watch()` returns wait for the stream's start point.
        let anchoring = request.unanchored().then(|| ns.cluster().anchoring());
        let task = run(ns, request, sender, stop, running, anchoring, log);
        Ok((watch, task))
    }

    /// The open streams, each with the database it watches.
    pub fn open_streams(&self) -> Vec<Arc<Watch>> {
        let live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        live.iter().filter_map(Weak::upgrade).filter(|w| w.is_open()).collect()
    }

    /// Closes the open streams of `db` (every one when `None`) and waits for them to end; returns
    /// how many were open.
    pub async fn close(&self, db: Option<&str>) -> usize {
        let closing: Vec<Arc<Watch>> =
            self.open_streams().into_iter().filter(|w| db.is_none_or(|db| w.db == db)).collect();
        for watch in &closing {
            watch.close().await;
        }
        closing.len()
    }
}

/// Clears `running` when the task ends, however it ends.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

async fn run(
    ns: Namespace,
    request: WatchRequest,
    sender: mpsc::Sender<Item>,
    mut stop: watch::Receiver<bool>,
    running: Arc<AtomicBool>,
    anchoring: Option<Anchoring>,
    log: Log,
) {
    let _running = Running(running);
    // In a task of its own, so that a panic is reported as the stream's failure, not an ending.
    let following = tokio::spawn({
        let sender = sender.clone();
        async move { follow(&ns, request, &sender, anchoring, &log).await }
    });
    let abort = following.abort_handle();
    let outcome = tokio::select! {
        _ = stop.wait_for(|closed| *closed) => {
            abort.abort();
            return;
        }
        joined = following => joined.unwrap_or_else(|failure| Err(Error::internal("a change stream's task", failure))),
    };
    if let Err(error) = outcome {
        let _ = sender.send(Item::Failed(error)).await;
    }
}

/// Where a stream resumes: the Change Streams specification's cached resume token and start point.
struct Resume {
    options: ChangeStreamOptions,
    token: Option<ResumeToken>,
    /// Whether a change has been returned, after which a stream started with `startAfter` resumes
    /// with `resumeAfter`.
    returned: bool,
}

impl Resume {
    /// The options to open (or reopen) the stream with: resuming after the cached token when there
    /// is one, else starting where the application asked.
    fn options(&self) -> ChangeStreamOptions {
        let mut options = self.options.clone();
        if let Some(token) = &self.token {
            options.start_at_operation_time = None;
            if options.start_after.is_some() && !self.returned {
                options.start_after = Some(token.clone());
            } else {
                options.start_after = None;
                options.resume_after = Some(token.clone());
            }
        }
        options
    }

    /// Whether the stream has no start point yet: the application gave none and none is cached.
    fn unanchored(&self) -> bool {
        self.token.is_none() && starts_nowhere(&self.options)
    }
}

fn starts_nowhere(options: &ChangeStreamOptions) -> bool {
    options.resume_after.is_none() && options.start_after.is_none() && options.start_at_operation_time.is_none()
}

/// Runs the stream until the server ends it (`Ok`) or it fails: as it first opens, or later with an
/// error it cannot resume from. Sends every change to `sender`, and stops when nobody reads any more.
async fn follow(
    ns: &Namespace,
    request: WatchRequest,
    sender: &mpsc::Sender<Item>,
    mut anchoring: Option<Anchoring>,
    log: &Log,
) -> Result<(), Error> {
    let mut resume = Resume { options: request.options.clone(), token: None, returned: false };
    let mut delay = FIRST_RESUME_DELAY;
    // A stream that never opened fails as the Node driver's does (a server not reachable, a bad
    // pipeline); once open, it resumes after any transient failure, for as long as it takes.
    let mut opened = false;
    loop {
        if resume.unanchored() {
            let anchored = anchor(ns, &request.pipeline, resume.options()).await;
            // Whether it worked or not, operations held back go on.
            drop(anchoring.take());
            match anchored {
                Ok(Some(token)) => {
                    resume.token = Some(token.clone());
                    if sender.send(Item::Change(Change { event: None, token })).await.is_err() {
                        return Ok(());
                    }
                }
                // A server that gives no token: the stream starts where it opens.
                Ok(None) => {}
                Err(error) if !opened => return Err(error),
                Err(error) => {
                    wait_to_resume(error, &mut delay, ns, log).await?;
                    continue;
                }
            }
        }
        let (mut stream, _lease) = match open(ns, &request.pipeline, resume.options()).await {
            Ok(stream) => stream,
            Err(error) if !opened => return Err(error),
            Err(error) => {
                wait_to_resume(error, &mut delay, ns, log).await?;
                continue;
            }
        };
        opened = true;
        loop {
            match stream.next_if_any().await {
                Ok(Some(event)) => {
                    resume.returned = true;
                    resume.token = stream.resume_token();
                    let token = resume.token.clone().ok_or(Error::Driver(ErrorKind::MissingResumeToken.into()))?;
                    if sender.send(Item::Change(Change { event: Some(event), token })).await.is_err() {
                        return Ok(());
                    }
                    delay = FIRST_RESUME_DELAY;
                }
                Ok(None) => {
                    let token = stream.resume_token();
                    if let Some(token) = token.filter(|token| resume.token.as_ref() != Some(token)) {
                        resume.token = Some(token.clone());
                        if sender.send(Item::Change(Change { event: None, token })).await.is_err() {
                            return Ok(());
                        }
                    }
                    if !stream.is_alive() {
                        return Ok(());
                    }
                }
                Err(error) => {
                    let error = Error::from(error);
                    if !resumable(&error) {
                        return Err(error);
                    }
                    log.emit(|| {
                        let error = ns.cluster().scrub(&error.to_string());
                        tracing::warn!(db = ns.db, error, "change stream interrupted, resuming")
                    });
                    break;
                }
            }
        }
    }
}

/// Returns `error` when the stream cannot resume after it; else waits `delay` (doubling it for the
/// next time, up to 5 s).
async fn wait_to_resume(error: Error, delay: &mut Duration, ns: &Namespace, log: &Log) -> Result<(), Error> {
    if !resumable(&error) {
        return Err(error);
    }
    log.emit(|| {
        let error = ns.cluster().scrub(&error.to_string());
        tracing::warn!(db = ns.db, error, "change stream cannot resume yet, retrying")
    });
    tokio::time::sleep(*delay).await;
    *delay = (*delay * 2).min(MAX_RESUME_DELAY);
    Ok(())
}

/// The start point of a stream given none: the resume token of an `aggregate` opening it on the
/// operations' pool, admitted as an operation of the database (and closed at once). Operations on
/// that pool started after `watch()` wait for it (`Cluster::anchoring`), so the stream sees all
/// their changes, where a stream of the Node driver sees those that reach the server after its
/// `aggregate`.
async fn anchor(
    ns: &Namespace,
    pipeline: &[Document],
    options: ChangeStreamOptions,
) -> Result<Option<ResumeToken>, Error> {
    let started = async {
        let (client, _lease) = ns.cluster().anchor_lease(&ns.db).await?;
        let db = client.database(&ns.db);
        let token = match &ns.coll {
            Some(coll) => {
                let coll = db.collection::<Document>(coll);
                coll.watch().pipeline(pipeline.to_vec()).with_options(options).await?.resume_token()
            }
            None => db.watch().pipeline(pipeline.to_vec()).with_options(options).await?.resume_token(),
        };
        Ok(token)
    };
    ns.track(started, |_| true).await
}

/// Opens the stream on the stream client of the pool serving `ns` now, with a lease that keeps that
/// pool open (it holds no place in admission).
async fn open(
    ns: &Namespace,
    pipeline: &[Document],
    options: ChangeStreamOptions,
) -> Result<(ChangeStream<RawDocumentBuf>, Lease), Error> {
    let cluster = ns.cluster();
    let (_, mut lease) = cluster.lease(&ns.db).await?;
    lease.hold();
    let db = cluster.stream_client().await?.database(&ns.db);
    let stream = match &ns.coll {
        Some(coll) => db
            .collection::<RawDocumentBuf>(coll)
            .watch()
            .pipeline(pipeline.to_vec())
            .with_options(options)
            .await?
            .with_type::<RawDocumentBuf>(),
        None => db.watch().pipeline(pipeline.to_vec()).with_options(options).await?.with_type::<RawDocumentBuf>(),
    };
    Ok((stream, lease))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Timestamp};

    #[test]
    fn options_are_read_or_refused() {
        let options = change_stream_options(&doc! {
            "fullDocument": "updateLookup",
            "fullDocumentBeforeChange": "whenAvailable",
            "resumeAfter": { "_data": "82abc" },
            "maxAwaitTimeMS": 250,
            "batchSize": 10.0,
            "collation": { "locale": "en" },
            "readPreference": "primary",
            "readConcern": { "level": "majority" },
        })
        .unwrap();
        assert!(matches!(options.full_document, Some(FullDocumentType::UpdateLookup)));
        assert_eq!(options.max_await_time, Some(Duration::from_millis(250)));
        assert_eq!(options.batch_size, Some(10));
        assert!(options.resume_after.is_some());
        let ts = change_stream_options(&doc! { "startAtOperationTime": Timestamp { time: 5, increment: 1 } }).unwrap();
        assert_eq!(ts.start_at_operation_time, Some(Timestamp { time: 5, increment: 1 }));
        for refused in [
            doc! { "fullDocument": "sometimes" },
            doc! { "fullDocument": true },
            doc! { "timeoutMS": 5 },
            doc! { "comment": "c" },
            doc! { "maxAwaitTimeMS": -1 },
            doc! { "batchSize": 1.5 },
            doc! { "readPreference": "secondary" },
            doc! { "resumeAfter": "token" },
            doc! { "resumeAfter": { "_data": "a" }, "startAfter": { "_data": "b" } },
        ] {
            assert!(matches!(change_stream_options(&refused), Err(Error::InvalidArgument(_))), "{refused}");
        }
    }

    #[test]
    fn a_stream_resumes_after_its_cached_token() {
        let token =
            |data: &str| bson::deserialize_from_bson::<ResumeToken>(Bson::Document(doc! { "_data": data })).unwrap();
        let mut options = ChangeStreamOptions::default();
        options.start_at_operation_time = Some(Timestamp { time: 1, increment: 0 });
        let mut resume = Resume { options, token: None, returned: false };
        assert!(!resume.unanchored());
        assert!(resume.options().start_at_operation_time.is_some());
        resume.token = Some(token("a"));
        let reopened = resume.options();
        assert_eq!((reopened.start_at_operation_time, reopened.resume_after), (None, Some(token("a"))));
        let mut options = ChangeStreamOptions::default();
        options.start_after = Some(token("s"));
        let mut resume = Resume { options, token: Some(token("t")), returned: false };
        assert_eq!((resume.options().start_after, resume.options().resume_after), (Some(token("t")), None));
        resume.returned = true;
        assert_eq!((resume.options().start_after, resume.options().resume_after), (None, Some(token("t"))));
        assert!(Resume { options: ChangeStreamOptions::default(), token: None, returned: false }.unanchored());
    }

    #[test]
    fn only_transient_failures_resume() {
        let io: Error =
            mongodb::error::Error::from(ErrorKind::Io(Arc::new(std::io::ErrorKind::ConnectionReset.into()))).into();
        assert!(resumable(&io));
        assert!(!resumable(&Error::Closed));
        assert!(!resumable(&Error::InvalidArgument("x".into())));
    }
}
