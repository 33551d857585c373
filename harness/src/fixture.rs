//! Shared fixtures: a resource that many checks need (a kube client, the Nomad server pod,
//! later a pipeline run) is started lazily by the first check that asks for it, once, and
//! every other check gets the same value. A failed start is not kept: the next check that
//! asks (or a retry of the same check) starts it again, so that retries mean something.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::OnceCell;

type Init<T, E> = Box<dyn Fn() -> BoxFuture<'static, Result<T, E>> + Send + Sync>;

/// A value started on first use and shared afterwards. Starts never overlap: checks that
/// ask while a start is under way wait for it.
pub struct Fixture<T, E> {
    name: &'static str,
    cell: OnceCell<T>,
    init: Init<T, E>,
}

impl<T, E> Fixture<T, E> {
    /// A fixture that `init` starts on first use; `name` shows in its `Debug` output.
    pub fn new<F, Fut>(name: &'static str, init: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        Fixture { name, cell: OnceCell::new(), init: Box::new(move || Box::pin(init())) }
    }

    /// The fixture's value, started now if no check started it successfully before.
    pub async fn get(&self) -> Result<&T, Arc<E>> {
        self.cell.get_or_try_init(|| async { (self.init)().await.map_err(Arc::new) }).await
    }

    /// The value, if some check started it successfully; never starts it.
    pub fn peek(&self) -> Option<&T> {
        self.cell.get()
    }

    /// Whether some check already started it.
    pub fn is_started(&self) -> bool {
        self.cell.initialized()
    }
}

impl<T, E> fmt::Debug for Fixture<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixture").field("name", &self.name).field("started", &self.is_started()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn starts_once_for_many_concurrent_users() {
        let starts = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&starts);
        let fixture = Arc::new(Fixture::new("answer", move || {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok::<_, String>(42)
            }
        }));
        assert!(!fixture.is_started());
        let users = (0..8).map(|_| {
            let fixture = Arc::clone(&fixture);
            tokio::spawn(async move { *fixture.get().await.unwrap() })
        });
        for user in users {
            assert_eq!(user.await.unwrap(), 42);
        }
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert!(fixture.is_started());
    }

    #[tokio::test]
    async fn a_failed_start_is_tried_again_by_the_next_user() {
        let starts = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&starts);
        let fixture: Fixture<u8, String> = Fixture::new("flaky", move || {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            async move { if attempt == 0 { Err("connection reset".to_string()) } else { Ok(7) } }
        });
        assert_eq!(*fixture.get().await.unwrap_err(), "connection reset");
        assert!(!fixture.is_started());
        assert_eq!(*fixture.get().await.unwrap(), 7);
        assert_eq!(*fixture.get().await.unwrap(), 7);
        assert_eq!(starts.load(Ordering::SeqCst), 2);
    }
}
