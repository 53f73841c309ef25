//! Things a person should hear about (SPEC F25): a failed sync, a new
//! subscription awaiting approval, an approval or rejection received, a long
//! sync finished. The engine only announces them; a shell that can show
//! desktop notifications installs a sink. Announcing never fails and never
//! waits on the sink's success.

use std::sync::Arc;

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub enum NoticeKind {
    SyncFailed,
    SubscriptionRequest,
    ApprovalReceived,
    SyncFinished,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Notice {
    pub kind: NoticeKind,
    pub summary: String,
    pub body: String,
}

/// Receives notices; must return quickly (hand slow work to a thread).
pub type NoticeSink = Arc<dyn Fn(&Notice) + Send + Sync>;

impl crate::site::Site {
    /// Installs the sink that shows notices (replacing any earlier one).
    pub fn set_notice_sink(&self, sink: NoticeSink) {
        *self.notice_sink.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    pub(crate) fn announce(&self, kind: NoticeKind, summary: String, body: String) {
        tracing::info!(?kind, %summary, %body, "notice");
        let sink = self
            .notice_sink
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(sink) = sink {
            sink(&Notice {
                kind,
                summary,
                body,
            });
        }
    }
}
