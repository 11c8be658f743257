//! `nextdue pause queue|kind NAME`, `resume`, `pauses`, `limit queue|kind NAME 10/minute` and
//! `limits`: the operators' pauses and rate limits of whole classes of work, written to the
//! control table that every executor reads (so each takes hold within [`REFRESH`] and a
//! message's trip).

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;

use super::format::{self, paint, style};
use super::list::parse_age;
use super::{Connection, OpsError, OpsResult};
use crate::controls::{Controls, Limit, Mode, Pause, REFRESH, Scope, describe};
use crate::handlers::controls::{lift, pause, release, set_limit};
use crate::seams::ControlStore;

/// What `pause` pauses, and how.
#[derive(Args, Clone, Debug)]
pub struct PauseArgs {
    /// `queue` or `kind`.
    #[arg(value_parser = ["queue", "kind"])]
    pub what: String,
    /// The queue's or the kind's name.
    pub name: String,
    /// What due runs do meanwhile: `hold` (they wait; each worker runs once on resume, then
    /// on its grid) or `skip` (they are skipped, recorded as such in the runs table).
    #[arg(long, value_enum, default_value_t = Mode::Hold)]
    pub mode: Mode,
    /// End the pause by itself after this long (`30m`, `2h`, `1d`); default: at `resume`.
    #[arg(long = "for", value_parser = parse_age, value_name = "AGE")]
    pub length: Option<TimeDelta>,
}

/// What `resume` resumes.
#[derive(Args, Clone, Debug)]
pub struct ResumeArgs {
    /// `queue` or `kind`.
    #[arg(value_parser = ["queue", "kind"])]
    pub what: String,
    /// The queue's or the kind's name.
    pub name: String,
}

/// What `limit` limits, and to what.
#[derive(Args, Clone, Debug)]
pub struct LimitArgs {
    /// `queue` or `kind`.
    #[arg(value_parser = ["queue", "kind"])]
    pub what: String,
    /// The queue's or the kind's name.
    pub name: String,
    /// At most this many starts: `10/minute`, `5/second`, `100/hour` (spread evenly).
    #[arg(required_unless_present = "off", conflicts_with = "off")]
    pub rate: Option<Limit>,
    /// Remove the limit instead.
    #[arg(long)]
    pub off: bool,
}

/// `pauses` and `limits` take no arguments of their own.
#[derive(Args, Clone, Debug)]
pub struct PausesArgs {}

fn scope(what: &str, name: &str) -> OpsResult<Scope> {
    Scope::parse(what, name).map_err(OpsError)
}

/// Who is acting, as AWS knows the caller (the emulator answers a made-up user), else the
/// local user name.
async fn who(connection: &Connection) -> String {
    let config = connection.config().await;
    match aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
    {
        Ok(identity) => identity.arn.unwrap_or_default(),
        Err(_) => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    }
}

fn pause_json(scope: &Scope, pause: &Pause, now: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "scope": scope.key(),
        "mode": pause.mode,
        "since": pause.since,
        "until": pause.until,
        "by": pause.by,
        "inForce": pause.in_force(now),
    })
}

/// Runs `nextdue pause`.
pub async fn run_pause(connection: &Connection, args: &PauseArgs) -> OpsResult<()> {
    let scope = scope(&args.what, &args.name)?;
    if args
        .length
        .is_some_and(|length| length <= TimeDelta::zero())
    {
        return Err(OpsError(
            "--for 0 would end the pause as it begins: give a length (30m, 2h)".into(),
        ));
    }
    let clients = connection.clients().await?;
    let control = connection.control_on(&clients);
    let now = connection.now();
    let by = who(connection).await;
    let written = pause(&control, &scope, args.mode, args.length, &by, now)
        .await
        .map_err(|e| connection.explain_store("writing the pause", e))?;
    if connection.json {
        format::print_json(&pause_json(&scope, &written, now));
        return Ok(());
    }
    let meanwhile = match args.mode {
        Mode::Hold => "due runs wait, and each worker runs once when it ends, then on its grid",
        Mode::Skip => "due runs are skipped (recorded as such in the runs table)",
    };
    format::print(&format!(
        "{}: new starts stop within {} s; {meanwhile}",
        paint(&format::safe(&describe(&scope, &written)), style::HEAD),
        REFRESH.num_seconds()
    ));
    Ok(())
}

/// Runs `nextdue resume`: ends the pause, waits [`REFRESH`] (every executor reads the end
/// meanwhile; a worker released before would meet an older reading and be held again), then
/// releases the workers it held.
pub async fn run_resume(connection: &Connection, args: &ResumeArgs) -> OpsResult<()> {
    let scope = scope(&args.what, &args.name)?;
    let clients = connection.clients().await?;
    let control = connection.control_on(&clients);
    let store = connection.store_on(&clients);
    let settings = connection.settings()?;
    let name = paint(&format::safe(&scope.to_string()), style::HEAD);
    let lifted = lift(&control, &scope, connection.now())
        .await
        .map_err(|e| connection.explain_store("resuming", e))?;
    let Some(pause) = lifted else {
        if connection.json {
            format::print_json(
                &serde_json::json!({"scope": scope.key(), "resumed": false, "released": 0}),
            );
        } else {
            format::print(&format!("{name} was not paused (nothing changes)"));
        }
        return Ok(());
    };
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
    );
    let mut released = 0;
    if pause.mode == Mode::Hold {
        bar.set_message(format!(
            "resumed; releasing the held workers in {} s, once every executor has read it",
            REFRESH.num_seconds()
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        tokio::time::sleep(REFRESH.to_std().expect("a positive time")).await;
        released = release(
            &store,
            &settings.policy,
            &scope,
            connection.now(),
            &mut |released| bar.set_message(format!("released {released} held workers")),
        )
        .await
        .map_err(|e| connection.explain_store("releasing the held workers", e))?
        .released;
    }
    bar.finish_and_clear();
    if connection.json {
        format::print_json(&serde_json::json!({
            "scope": scope.key(),
            "resumed": true,
            "released": released,
        }));
    } else if pause.mode == Mode::Hold {
        format::print(&format!(
            "{name} resumed: new starts began within {} s; {released} held worker(s) released, \
             each for one catch-up run",
            REFRESH.num_seconds(),
        ));
    } else {
        format::print(&format!(
            "{name} resumed: new starts begin within {} s; the next due times run",
            REFRESH.num_seconds()
        ));
    }
    Ok(())
}

/// Runs `nextdue limit`.
pub async fn run_limit(connection: &Connection, args: &LimitArgs) -> OpsResult<()> {
    let scope = scope(&args.what, &args.name)?;
    let clients = connection.clients().await?;
    let control = connection.control_on(&clients);
    let limit = if args.off { None } else { args.rate };
    let had = set_limit(&control, &scope, limit, connection.now())
        .await
        .map_err(|e| connection.explain_store("writing the limit", e))?;
    if connection.json {
        format::print_json(&serde_json::json!({
            "scope": scope.key(),
            "limit": limit.map(|l| l.to_string()),
            "was": had.map(|l| l.to_string()),
        }));
        return Ok(());
    }
    let name = paint(&format::safe(&scope.to_string()), style::HEAD);
    match (limit, had) {
        (Some(limit), _) => format::print(&format!(
            "{name} limited to {limit} (one start every {:.3} s), from within {} s; runs \
             beyond it wait for the next free start",
            limit.spacing().num_milliseconds() as f64 / 1000.0,
            REFRESH.num_seconds()
        )),
        (None, Some(had)) => format::print(&format!(
            "{name} no longer limited (it was {had}); runs already deferred keep their start"
        )),
        (None, None) => format::print(&format!("{name} was not limited (nothing changes)")),
    }
    Ok(())
}

/// Runs `nextdue limits`: every rate limit.
pub async fn run_limits(connection: &Connection, _args: &PausesArgs) -> OpsResult<()> {
    let clients = connection.clients().await?;
    let (controls, _) = connection
        .control_on(&clients)
        .controls()
        .await
        .map_err(|e| connection.explain_store("reading the limits", e))?;
    if connection.json {
        let limits: serde_json::Map<_, _> = controls
            .limits
            .iter()
            .map(|(key, limit)| (key.clone(), serde_json::json!(limit.to_string())))
            .collect();
        format::print_json(&serde_json::Value::Object(limits));
        return Ok(());
    }
    if controls.limits.is_empty() {
        format::print("nothing is rate-limited");
        return Ok(());
    }
    let rows = controls
        .limits
        .iter()
        .map(|(key, limit)| vec![format::safe(key), limit.to_string()])
        .collect();
    format::print(&format::table(&["LIMITED", "AT MOST"], rows));
    Ok(())
}

/// The rows `pauses` prints.
fn rows(controls: &Controls, now: DateTime<Utc>) -> Vec<Vec<String>> {
    controls
        .pauses
        .iter()
        .map(|(key, pause)| {
            let until = match pause.until {
                None => "resume".to_owned(),
                Some(until) if pause.in_force(now) => format::when(until, now),
                Some(until) => format!("ended {}", format::relative(until, now)),
            };
            vec![
                format::safe(key),
                pause.mode.to_string(),
                format::when(pause.since, now),
                until,
                format::safe(&pause.by),
            ]
        })
        .collect()
}

/// Runs `nextdue pauses`: every pause on record, in force or ended by itself.
pub async fn run_pauses(connection: &Connection, _args: &PausesArgs) -> OpsResult<()> {
    let clients = connection.clients().await?;
    let control = connection.control_on(&clients);
    let (controls, _) = control
        .controls()
        .await
        .map_err(|e| connection.explain_store("reading the pauses", e))?;
    let now = connection.now();
    if connection.json {
        let pauses: Vec<_> = controls
            .pauses
            .iter()
            .filter_map(|(key, pause)| Some(pause_json(&Scope::from_key(key)?, pause, now)))
            .collect();
        format::print_json(&serde_json::json!(pauses));
        return Ok(());
    }
    if controls.pauses.is_empty() {
        format::print("nothing is paused");
        return Ok(());
    }
    format::print(&format::table(
        &["PAUSED", "MODE", "SINCE", "UNTIL", "BY"],
        rows(&controls, now),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_stamp;

    #[test]
    fn pauses_read_in_words_until_their_end_then_as_ended() {
        let now = parse_stamp("2027-01-01T10:00:00Z").unwrap();
        let mut controls = Controls::default();
        let since = parse_stamp("2027-01-01T09:00:00Z").unwrap();
        for (key, until) in [("queue:default", None), ("kind:report", Some(since))] {
            controls.pauses.insert(
                key.into(),
                Pause {
                    mode: Mode::Skip,
                    since,
                    until,
                    by: "ops\u{1b}[2J".into(),
                },
            );
        }
        let rows = rows(&controls, now);
        assert_eq!(rows[0][0], "kind:report");
        assert_eq!(rows[0][3], "ended an hour ago");
        assert_eq!(rows[1][3], "resume");
        assert_eq!(
            rows[1][4], "ops\\u{1b}[2J",
            "what anyone wrote prints escaped"
        );
    }
}
