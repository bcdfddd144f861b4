//! The engine's locks and the admission's channels, from one place so that tests can check how they
//! are used:
//! - normally std's locks and tokio's channels;
//! - in the engine's unit tests, tracing-mutex's locks, which record the order locks are taken in and
//!   panic on a cycle whatever the interleaving (the budget ↔ cluster lock order deadlocked once);
//! - with the `loom` feature, loom's locks and small loom-aware channels, for the admission's models
//!   (`admission::loom_models`); the engine built so only runs inside a loom model.

#[cfg(all(not(test), not(feature = "loom")))]
pub use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(all(test, not(feature = "loom")))]
pub use tracing_mutex::stdsync::tracing::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(feature = "loom"))]
pub use tokio::sync::oneshot;

#[cfg(feature = "loom")]
pub use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// tokio's `oneshot`, as much of it as the admission uses, on loom's primitives so that loom sees
/// every hand-over between a releasing operation and a waiting one.
#[cfg(feature = "loom")]
pub mod oneshot {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use loom::future::AtomicWaker;
    use loom::sync::{Arc, Mutex};

    struct Shared<T> {
        slot: Mutex<Slot<T>>,
        waker: AtomicWaker,
    }

    struct Slot<T> {
        value: Option<T>,
        sender_gone: bool,
        receiver_gone: bool,
    }

    pub struct Sender<T>(Arc<Shared<T>>);

    pub struct Receiver<T>(Arc<Shared<T>>);

    #[derive(Debug)]
    pub struct RecvError;

    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot { value: None, sender_gone: false, receiver_gone: false }),
            waker: AtomicWaker::new(),
        });
        (Sender(shared.clone()), Receiver(shared))
    }

    impl<T> Sender<T> {
        /// Errors: the value back when the receiver is gone.
        pub fn send(self, value: T) -> Result<(), T> {
            let mut slot = self.0.slot.lock().unwrap();
            if slot.receiver_gone {
                return Err(value);
            }
            slot.value = Some(value);
            Ok(())
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            self.0.slot.lock().unwrap().sender_gone = true;
            self.0.waker.wake();
        }
    }

    impl<T> Future for Receiver<T> {
        type Output = Result<T, RecvError>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            self.0.waker.register_by_ref(cx.waker());
            let mut slot = self.0.slot.lock().unwrap();
            match slot.value.take() {
                Some(value) => Poll::Ready(Ok(value)),
                None if slot.sender_gone => Poll::Ready(Err(RecvError)),
                None => Poll::Pending,
            }
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            // A value sent and never received is dropped outside the lock: dropping it may lock again.
            let unreceived = {
                let mut slot = self.0.slot.lock().unwrap();
                slot.receiver_gone = true;
                slot.value.take()
            };
            drop(unreceived);
        }
    }
}
