//! Desktop notifications (SPEC F25) through notify-rust: the engine's
//! notices shown by the session's notification daemon. One worker thread
//! shows them in turn; a full queue drops a notice rather than wait, and a
//! missing daemon is logged once — syncing never waits on either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, TrySendError};
use std::sync::Arc;

use outpost_engine::notice::{Notice, NoticeKind, NoticeSink};

/// Notices waiting to be shown, at most.
const QUEUE: usize = 32;

/// A sink that shows notices as desktop notifications.
pub fn desktop_notifications() -> NoticeSink {
    let (tx, rx) = sync_channel::<Notice>(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("outpost-notify".into())
        .spawn(move || {
            let warned = AtomicBool::new(false);
            for notice in rx {
                if let Err(e) = show(&notice) {
                    if !warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "desktop notifications are not shown: no notification daemon answers");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the notification thread");
    }
    Arc::new(move |n: &Notice| match tx.try_send(n.clone()) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(_)) => tracing::debug!("notification queue full: notice dropped"),
    })
}

fn show(n: &Notice) -> Result<(), notify_rust::error::Error> {
    let urgency = match n.kind {
        NoticeKind::SyncFailed => notify_rust::Urgency::Critical,
        _ => notify_rust::Urgency::Normal,
    };
    notify_rust::Notification::new()
        .appname("Outpost")
        .summary(&n.summary)
        .body(&n.body)
        .urgency(urgency)
        .show()
        .map(|_| ())
}
