//! Preflights: checks of the installation's reachability that a suite declares beside its
//! checks, and that must pass before any check carrying their tag runs.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::check::{CheckKind, Tag};
use crate::suite::Suite;

/// A check of the installation's reachability that must pass before any check carrying
/// `needed_by` runs. Its `Ok` is a note ("Kubernetes v1.32.4"); its `Err` ends the run.
pub struct Preflight<S: Suite> {
    /// Named in reports and in the skip reason of the checks it stops.
    pub name: &'static str,
    /// The checks carrying this tag need it.
    pub needed_by: Tag,
    /// Its timeout is this kind's.
    pub kind: CheckKind,
    /// What it does.
    #[allow(clippy::type_complexity)]
    pub run: Arc<dyn Fn(Arc<S::Resources>) -> BoxFuture<'static, Result<String, String>> + Send + Sync>,
}

impl<S: Suite> Preflight<S> {
    /// A preflight of the checks tagged `needed_by`.
    pub fn new<F, Fut>(name: &'static str, needed_by: Tag, kind: CheckKind, run: F) -> Self
    where
        F: Fn(Arc<S::Resources>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Preflight { name, needed_by, kind, run: Arc::new(move |resources| Box::pin(run(resources))) }
    }
}
