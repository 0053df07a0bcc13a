//! `siperb-cli history`: the profile's calls, newest first, as a table or JSON.

use siperb_engine::EngineHandle;
use siperb_engine::{CallDirection, CallRecord, Disposition, HistoryQuery};

use crate::error::CliError;

pub(crate) async fn run(
    engine: &EngineHandle,
    query: HistoryQuery,
    mark_seen: bool,
    clear: bool,
    json: bool,
) -> Result<(), CliError> {
    if clear {
        let n = engine.clear_history().await?;
        if json {
            println!("{}", serde_json::json!({ "cleared": n }));
        } else {
            println!("forgot {n} calls");
        }
        return Ok(());
    }
    let calls = engine.history(query).await?;
    let unseen = engine.unseen_missed_calls().await?;
    if json {
        println!("{}", crate::to_json(&calls));
    } else if calls.is_empty() {
        println!("no calls");
    } else {
        for c in &calls {
            println!("{}", line(c));
        }
        if unseen > 0 {
            println!("{unseen} missed call(s) not seen yet");
        }
    }
    if mark_seen {
        engine.mark_calls_seen().await?;
    }
    Ok(())
}

fn line(c: &CallRecord) -> String {
    let arrow = match c.direction {
        CallDirection::Incoming => "<-",
        CallDirection::Outgoing => "->",
    };
    let what = match c.disposition {
        Disposition::Ongoing => "ongoing",
        Disposition::Answered => "answered",
        Disposition::Missed => "MISSED",
        Disposition::Rejected => "rejected",
        Disposition::Busy => "busy",
        Disposition::Failed => "failed",
        Disposition::Cancelled => "cancelled",
        Disposition::Interrupted => "interrupted",
    };
    let who = if c.display_name.is_empty() {
        c.remote_uri.clone()
    } else {
        format!("{} <{}>", c.display_name, c.remote_uri)
    };
    let talk = c
        .duration_secs
        .map(|d| format!(" {}:{:02}", (d as u64) / 60, (d as u64) % 60))
        .unwrap_or_default();
    let code = c.sip_code.map(|s| format!(" ({s})")).unwrap_or_default();
    format!(
        "{} {arrow} {what:<11} {who}{talk}{code}",
        utc_time(c.started_at)
    )
}

/// `YYYY-MM-DD HH:MM` (UTC) for Unix milliseconds.
fn utc_time(ms: i64) -> String {
    let t = siperb_engine::UtcDateTime::from_unix_secs(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_shown_as_dates() {
        assert_eq!(super::utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(super::utc_time(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
