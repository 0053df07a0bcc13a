//! `--control`: a script drives the calls of `call` and `listen` with one command per line on
//! stdin. Only translation to engine commands happens here.

use std::sync::{Arc, Mutex};

use siperb_engine::{AccountId, CallInput, CallRef, EngineHandle};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

pub(crate) const HELP: &str = "commands: call TARGET | answer [CALL] | reject [CALL] [CODE] | \
     hangup [CALL] | hold [CALL] | resume [CALL] | dtmf DIGITS [CALL] | transfer TARGET [CALL] | \
     attended CALL TO | swap CALL | mute [CALL] | unmute [CALL] | record FILE.wav [CALL] | \
     record stop [CALL] | speaker NAME|default | microphone NAME|default | calls | quit  \
     (CALL defaults to the latest live call; speaker and microphone act on it)";

/// The calls alive now, oldest first: shared between the event loop and the control task.
#[derive(Clone, Default)]
pub(crate) struct LiveCalls(Arc<Mutex<Vec<CallRef>>>);

impl LiveCalls {
    pub(crate) fn add(&self, call: CallRef) {
        if let Ok(mut c) = self.0.lock()
            && !c.contains(&call)
        {
            c.push(call);
        }
    }

    pub(crate) fn remove(&self, call: CallRef) {
        if let Ok(mut c) = self.0.lock() {
            c.retain(|x| *x != call);
        }
    }

    pub(crate) fn list(&self) -> Vec<CallRef> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn latest(&self) -> Option<CallRef> {
        self.list().last().copied()
    }
}

/// A command line a script typed, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Cmd {
    Call(String),
    Input(Option<CallRef>, CallInput),
    /// Digits sent one by one, a quarter second apart.
    Dtmf(Option<CallRef>, String),
    Attended(CallRef, CallRef),
    Swap(CallRef),
    Mute(Option<CallRef>, bool),
    Record(Option<CallRef>, std::path::PathBuf),
    StopRecording(Option<CallRef>),
    /// Move the latest call's audio to a device (by name, as `devices` lists them).
    Device(siperb_audio::DeviceDirection, String),
    Calls,
    Quit,
}

fn parse(line: &str) -> Result<Cmd, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let call = |w: Option<&&str>| -> Result<Option<CallRef>, String> {
        match w {
            None => Ok(None),
            Some(w) => w
                .parse()
                .map(|n| Some(CallRef(n)))
                .map_err(|_| format!("{w:?} is not a call number")),
        }
    };
    let need_call = |w: Option<&&str>| -> Result<CallRef, String> {
        call(w)?.ok_or_else(|| "which call? give its number".to_owned())
    };
    let Some((verb, args)) = words.split_first() else {
        return Err("empty command".into());
    };
    let extra = |n: usize| {
        if args.len() > n {
            Err(format!("too many arguments for {verb}"))
        } else {
            Ok(())
        }
    };
    Ok(match verb.to_ascii_lowercase().as_str() {
        "call" | "dial" => {
            extra(1)?;
            Cmd::Call(args.first().ok_or("call whom?")?.to_string())
        }
        "answer" => {
            extra(1)?;
            Cmd::Input(call(args.first())?, CallInput::Answer)
        }
        "reject" | "decline" => {
            extra(2)?;
            let code = match args.get(1) {
                Some(c) => c
                    .parse()
                    .ok()
                    .filter(|c| (400..700).contains(c))
                    .ok_or_else(|| format!("{c:?} is not a SIP failure code (400-699)"))?,
                None => 603,
            };
            Cmd::Input(call(args.first())?, CallInput::Reject { code })
        }
        "hangup" | "bye" => {
            extra(1)?;
            Cmd::Input(call(args.first())?, CallInput::Hangup)
        }
        "hold" => {
            extra(1)?;
            Cmd::Input(call(args.first())?, CallInput::Hold)
        }
        "resume" | "unhold" => {
            extra(1)?;
            Cmd::Input(call(args.first())?, CallInput::Resume)
        }
        "dtmf" => {
            extra(2)?;
            let digits = args.first().ok_or("dtmf which digits?")?;
            if let Some(bad) = digits
                .chars()
                .find(|c| !(c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')))
            {
                return Err(format!("{bad:?} is not a DTMF digit"));
            }
            Cmd::Dtmf(call(args.get(1))?, digits.to_string())
        }
        "transfer" => {
            extra(2)?;
            let target = args.first().ok_or("transfer to whom?")?.to_string();
            Cmd::Input(call(args.get(1))?, CallInput::Transfer { target })
        }
        "attended" => {
            extra(2)?;
            Cmd::Attended(need_call(args.first())?, need_call(args.get(1))?)
        }
        "swap" => {
            extra(1)?;
            Cmd::Swap(need_call(args.first())?)
        }
        "mute" | "unmute" => {
            extra(1)?;
            Cmd::Mute(call(args.first())?, verb.eq_ignore_ascii_case("mute"))
        }
        "record" => {
            extra(2)?;
            match *args
                .first()
                .ok_or("record to which file? (or: record stop)")?
            {
                "stop" => Cmd::StopRecording(call(args.get(1))?),
                file => Cmd::Record(call(args.get(1))?, file.into()),
            }
        }
        "speaker" | "microphone" => {
            let name = args.join(" ");
            if name.is_empty() {
                return Err(format!("{verb} which device? (a name, or: default)"));
            }
            let direction = if verb.eq_ignore_ascii_case("speaker") {
                siperb_audio::DeviceDirection::Output
            } else {
                siperb_audio::DeviceDirection::Input
            };
            Cmd::Device(direction, name)
        }
        "calls" => Cmd::Calls,
        "quit" | "exit" => Cmd::Quit,
        _ => return Err(format!("unknown command {verb:?}; {HELP}")),
    })
}

/// Reads commands from stdin until it closes or `quit`; `quit` (or the end of stdin) is
/// reported on the returned channel.
pub(crate) fn spawn(
    engine: EngineHandle,
    account: Option<AccountId>,
    live: LiveCalls,
    json: bool,
) -> mpsc::UnboundedReceiver<()> {
    let (quit_tx, quit_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            match run(&engine, &account, &live, &line, json).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(message) => report(json, &line, &message),
            }
        }
        let _ = quit_tx.send(());
    });
    quit_rx
}

/// Carries out one command line; true for `quit`.
async fn run(
    engine: &EngineHandle,
    account: &Option<AccountId>,
    live: &LiveCalls,
    line: &str,
    json: bool,
) -> Result<bool, String> {
    let cmd = parse(line)?;
    let current = |c: Option<CallRef>| c.or_else(|| live.latest()).ok_or("there is no call");
    let result = match cmd {
        Cmd::Quit => return Ok(true),
        Cmd::Calls => {
            let calls: Vec<u64> = live.list().iter().map(|c| c.0).collect();
            if json {
                println!("{}", serde_json::json!({"event": "calls", "calls": calls}));
            } else {
                println!("calls: {calls:?}");
            }
            Ok(())
        }
        Cmd::Call(target) => engine.dial(account.clone(), target).await.map(|_| ()),
        Cmd::Input(call, input) => engine.call_command(current(call)?, input).await,
        Cmd::Dtmf(call, digits) => {
            let call = current(call)?;
            for d in digits.chars() {
                engine
                    .call_command(call, CallInput::SendDtmf(d))
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Ok(())
        }
        Cmd::Attended(call, to) => engine.attended_transfer(call, to).await,
        Cmd::Swap(call) => engine.swap_to(call).await,
        Cmd::Mute(call, muted) => {
            let call = current(call)?;
            engine.mute(call, muted).await.map(|()| {
                let what = if muted { "muted" } else { "unmuted" };
                say(
                    json,
                    serde_json::json!({"event": what, "call": call.0}),
                    || format!("call {}: {what}", call.0),
                );
            })
        }
        Cmd::Device(direction, name) => {
            let call = current(None)?;
            let devices = tokio::task::spawn_blocking(siperb_audio::list_devices)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let device =
                crate::devices::chosen(&devices, direction, &name).map_err(|e| e.to_string())?;
            engine.choose_device(call, direction, device).await
        }
        Cmd::Record(call, file) => {
            let call = current(call)?;
            engine.start_recording(call, file.clone()).await.map(|()| {
                let file = file.display().to_string();
                say(
                    json,
                    serde_json::json!({"event": "recording", "call": call.0, "file": file}),
                    || format!("call {}: recording to {file}", call.0),
                );
            })
        }
        Cmd::StopRecording(call) => {
            let call = current(call)?;
            engine.stop_recording(call).await.map(|secs| {
                let secs = secs.unwrap_or(0.0);
                say(
                    json,
                    serde_json::json!({"event": "recording_stopped", "call": call.0, "seconds": secs}),
                    || format!("call {}: recording stopped ({secs:.1} s)", call.0),
                );
            })
        }
    };
    result.map(|()| false).map_err(|e| e.to_string())
}

/// Prints what a command did: a JSON event, or a line for people.
fn say(json: bool, event: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{event}");
    } else {
        println!("{}", text());
    }
}

fn report(json: bool, line: &str, message: &str) {
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "command_failed", "command": line.trim(), "message": message})
        );
    } else {
        eprintln!("siperb-cli: {}: {message}", line.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_and_without_a_call_number() {
        assert_eq!(parse("answer"), Ok(Cmd::Input(None, CallInput::Answer)));
        assert_eq!(
            parse("HOLD 3"),
            Ok(Cmd::Input(Some(CallRef(3)), CallInput::Hold))
        );
        assert_eq!(
            parse("reject 2 486"),
            Ok(Cmd::Input(
                Some(CallRef(2)),
                CallInput::Reject { code: 486 }
            ))
        );
        assert_eq!(
            parse("transfer sip:carol@example.org 1"),
            Ok(Cmd::Input(
                Some(CallRef(1)),
                CallInput::Transfer {
                    target: "sip:carol@example.org".into()
                }
            ))
        );
        assert_eq!(
            parse("attended 1 2"),
            Ok(Cmd::Attended(CallRef(1), CallRef(2)))
        );
        assert_eq!(parse("swap 4"), Ok(Cmd::Swap(CallRef(4))));
        assert_eq!(parse("call bob"), Ok(Cmd::Call("bob".into())));
        assert_eq!(parse("dtmf 5"), Ok(Cmd::Dtmf(None, "5".into())));
        assert_eq!(
            parse("dtmf 12# 7"),
            Ok(Cmd::Dtmf(Some(CallRef(7)), "12#".into()))
        );
        assert_eq!(parse("quit"), Ok(Cmd::Quit));
        assert_eq!(parse("mute"), Ok(Cmd::Mute(None, true)));
        assert_eq!(
            parse("speaker Jabra Evolve"),
            Ok(Cmd::Device(
                siperb_audio::DeviceDirection::Output,
                "Jabra Evolve".into()
            ))
        );
        assert_eq!(
            parse("microphone default"),
            Ok(Cmd::Device(
                siperb_audio::DeviceDirection::Input,
                "default".into()
            ))
        );
        assert!(parse("speaker").is_err());
        assert_eq!(parse("unmute 2"), Ok(Cmd::Mute(Some(CallRef(2)), false)));
        assert_eq!(
            parse("record /tmp/a.wav 3"),
            Ok(Cmd::Record(Some(CallRef(3)), "/tmp/a.wav".into()))
        );
        assert_eq!(parse("record stop"), Ok(Cmd::StopRecording(None)));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        for (line, says) in [
            ("", "empty"),
            ("fly", "unknown command"),
            ("hold x", "not a call number"),
            ("reject 1 200", "not a SIP failure code"),
            ("dtmf 1x", "not a DTMF digit"),
            ("attended 1", "which call"),
            ("hangup 1 2", "too many"),
            ("call", "call whom"),
            ("record", "which file"),
            ("mute 1 2", "too many"),
        ] {
            let err = parse(line).expect_err(line);
            assert!(err.contains(says), "{line:?}: {err}");
        }
    }
}
