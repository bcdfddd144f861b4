//! Cursors that hand results over in chunks of raw BSON, so a large result never sits in memory whole.

use std::sync::Arc;

use bson::RawDocumentBuf;
use mongodb::{ClientSession, Cursor, SessionCursor};

use super::{command, CursorRequest};
use crate::cluster::Lease;
use crate::error::Error;
use crate::namespace::Namespace;
use crate::session::Session;

/// At most this many documents per chunk unless the query's batchSize says otherwise.
pub const DEFAULT_CHUNK_DOCS: u32 = 1000;
/// A chunk closes once it holds this many bytes.
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

enum State {
    /// Not yet sent: the query runs when the first chunk is asked for.
    Pending(Box<CursorRequest>),
    /// Sent; the lease keeps its cluster from being closed as idle while the cursor is open, and takes
    /// a place in the cluster's admission only while a chunk is read.
    Open {
        cursor: Box<Opened>,
        lease: Lease,
    },
    Exhausted,
}

/// A cursor open on the server: its getMores run in its session when it has one.
pub enum Opened {
    Implicit(Cursor<RawDocumentBuf>),
    InSession(SessionCursor<RawDocumentBuf>),
}

impl Opened {
    async fn advance(&mut self, session: Option<&mut ClientSession>) -> Result<bool, Error> {
        Ok(match (self, session) {
            (Opened::Implicit(cursor), _) => cursor.advance().await?,
            (Opened::InSession(cursor), Some(session)) => cursor.advance(session).await?,
            (Opened::InSession(_), None) => {
                return Err(Error::InvalidArgument("a cursor opened in a session reads in it".into()))
            }
        })
    }

    fn current(&self) -> &bson::RawDocument {
        match self {
            Opened::Implicit(cursor) => cursor.current(),
            Opened::InSession(cursor) => cursor.current(),
        }
    }
}

/// Documents laid end to end as BSON, the way js-bson's `deserializeStream` reads them.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub count: u32,
    pub done: bool,
}

pub struct DocCursor {
    ns: Namespace,
    session: Option<Arc<Session>>,
    state: State,
    chunk_docs: u32,
}

impl DocCursor {
    /// A cursor over `request`'s results, in `session` when given; nothing is sent until the first
    /// chunk is asked for.
    pub fn new(ns: Namespace, request: CursorRequest, session: Option<Arc<Session>>) -> Self {
        let batch_size = match &request {
            CursorRequest::Find(req) => req.options.batch_size,
            CursorRequest::Aggregate(req) => req.options.batch_size,
            CursorRequest::Command(req) => req.batch_size,
        };
        DocCursor {
            ns,
            session,
            state: State::Pending(Box::new(request)),
            chunk_docs: batch_size.unwrap_or(DEFAULT_CHUNK_DOCS).max(1),
        }
    }

    /// The next documents, up to a chunk's size; `done` once nothing is left. Each chunk read from the
    /// server counts as one operation of the database.
    pub async fn next_chunk(&mut self) -> Result<Chunk, Error> {
        if matches!(self.state, State::Exhausted) {
            return Ok(Chunk { done: true, ..Chunk::default() });
        }
        let read = async {
            let mut checked_out = match &self.session {
                Some(session) => Some(session.checkout(&self.ns).await?),
                None => None,
            };
            let session = checked_out.as_mut().map(|c| &mut *c.session);
            Self::read(&self.ns, &mut self.state, self.chunk_docs, session).await
        };
        self.ns.track(read, |_| true).await
    }

    async fn read(
        ns: &Namespace,
        state: &mut State,
        chunk_docs: u32,
        mut session: Option<&mut ClientSession>,
    ) -> Result<Chunk, Error> {
        // A query that fails to open leaves the cursor exhausted: its error is reported once.
        *state = match std::mem::replace(state, State::Exhausted) {
            State::Pending(source) => {
                let (cursor, lease) = open(ns, *source, session.as_deref_mut()).await?;
                State::Open { cursor: Box::new(cursor), lease }
            }
            other => other,
        };
        let State::Open { cursor, lease } = state else {
            return Ok(Chunk { done: true, ..Chunk::default() });
        };
        if let Err(e) = lease.resume().await {
            // Closed with its pool: the server-side cursor is gone, as after a server's cursor timeout.
            if matches!(e, Error::CursorTimedOut { .. }) {
                *state = State::Exhausted;
            }
            return Err(e);
        }
        let chunk = Self::fill(cursor, chunk_docs, session).await;
        match &chunk {
            Ok(chunk) if !chunk.done => lease.pause(),
            _ => *state = State::Exhausted,
        }
        chunk
    }

    async fn fill(
        cursor: &mut Opened,
        chunk_docs: u32,
        mut session: Option<&mut ClientSession>,
    ) -> Result<Chunk, Error> {
        let mut chunk = Chunk::default();
        while chunk.count < chunk_docs && chunk.bytes.len() < MAX_CHUNK_BYTES {
            if !cursor.advance(session.as_deref_mut()).await? {
                chunk.done = true;
                break;
            }
            chunk.bytes.extend_from_slice(cursor.current().as_bytes());
            chunk.count += 1;
        }
        Ok(chunk)
    }

    /// The reader read a document of a chunk it holds: the cursor is in use, and keeps its pool open
    /// for the pool's `ttl` from now (`Lease::pause`).
    pub fn touch(&self) {
        if let State::Open { lease, .. } = &self.state {
            lease.touch();
        }
    }

    /// Drops the cursor; the driver kills it on the server if it is still open there.
    pub fn close(&mut self) {
        self.state = State::Exhausted;
    }
}

async fn open(
    ns: &Namespace,
    request: CursorRequest,
    session: Option<&mut ClientSession>,
) -> Result<(Opened, Lease), Error> {
    match request {
        CursorRequest::Find(req) => {
            let (coll, lease) = ns.collection().await?.into_parts();
            let find = coll.find(req.filter).with_options(req.options.find());
            let opened = match session {
                Some(session) => Opened::InSession(find.session(session).await?),
                None => Opened::Implicit(find.await?),
            };
            Ok((opened, lease))
        }
        CursorRequest::Aggregate(req) => {
            let options = req.options.aggregate();
            let (db, lease) = ns.database().await?.into_parts();
            let opened = match (&ns.coll, session) {
                (None, Some(session)) => Opened::InSession(
                    db.aggregate(req.pipeline).with_options(options).session(session).await?.with_type(),
                ),
                (None, None) => Opened::Implicit(db.aggregate(req.pipeline).with_options(options).await?.with_type()),
                (Some(coll), Some(session)) => {
                    let coll = db.collection::<RawDocumentBuf>(coll);
                    Opened::InSession(
                        coll.aggregate(req.pipeline).with_options(options).session(session).await?.with_type(),
                    )
                }
                (Some(coll), None) => {
                    let coll = db.collection::<RawDocumentBuf>(coll);
                    Opened::Implicit(coll.aggregate(req.pipeline).with_options(options).await?.with_type())
                }
            };
            Ok((opened, lease))
        }
        CursorRequest::Command(req) => command::open_cursor(ns, req, session).await,
    }
}
