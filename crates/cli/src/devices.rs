//! `siperb-cli devices [--watch]`: the sound system's microphones and speakers, and (with
//! --watch) each change as it happens.

use std::time::Duration;

use siperb_audio::{ChosenDevice, DeviceDirection, DeviceEvent, DeviceInfo, DeviceWatcher};

use crate::error::CliError;

pub(crate) fn run(watch: bool, json: bool) -> Result<(), CliError> {
    let failed = |e: siperb_audio::AudioError| CliError::Devices(e.to_string());
    if !watch {
        let devices = siperb_audio::list_devices().map_err(failed)?;
        if json {
            println!("{}", crate::to_json(&devices));
        } else {
            print_list(&devices);
        }
        return Ok(());
    }
    let watcher = DeviceWatcher::start().map_err(failed)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "event": "devices", "devices": watcher.initial() })
        );
    } else {
        print_list(watcher.initial());
        println!("watching for changes (Ctrl+C stops)");
    }
    loop {
        let Some(event) = watcher.next(Duration::from_secs(3600)).map_err(failed)? else {
            continue;
        };
        if json {
            println!(
                "{}",
                serde_json::json!({ "event": "device", "change": event })
            );
        } else {
            println!("{}", describe(&event));
        }
    }
}

/// `devices --level SECS` and `devices --test-tone speaker|ringer`, through the engine (the
/// devices the profile chose).
pub(crate) async fn check(
    engine: &siperb_engine::EngineHandle,
    level: Option<f64>,
    test_tone: Option<crate::ToneTarget>,
    json: bool,
) -> Result<(), CliError> {
    if let Some(target) = test_tone {
        engine
            .test_tone(target == crate::ToneTarget::Ringer)
            .await?;
        if !json {
            println!("played the test tone");
        }
        return Ok(());
    }
    let Some(secs) = level else { return Ok(()) };
    if !secs.is_finite() || secs < 0.0 {
        return Err(CliError::Usage(format!(
            "--level takes a number of seconds, not {secs}"
        )));
    }
    let mut events = engine.subscribe();
    engine.meter_microphone(true).await?;
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(secs.min(86_400.0));
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            () = tokio::time::sleep_until(until) => break,
        };
        if let Ok(siperb_engine::EngineEvent::MicLevel { level }) = event {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "event": "mic_level", "rmsDbfs": level.rms_dbfs, "peakDbfs": level.peak_dbfs })
                );
            } else {
                println!(
                    "microphone {:6.1} dBFS (peak {:6.1})",
                    level.rms_dbfs, level.peak_dbfs
                );
            }
        }
    }
    engine.meter_microphone(false).await?;
    Ok(())
}

/// The device `name` means among `devices`: by name, a unique part of it, or id; `default`
/// chooses none (the system's).
pub(crate) fn chosen(
    devices: &[DeviceInfo],
    direction: DeviceDirection,
    name: &str,
) -> Result<Option<ChosenDevice>, CliError> {
    if name.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    siperb_audio::find_device(devices, direction, name)
        .map(|d| Some(ChosenDevice::from(&d)))
        .map_err(|e| CliError::Devices(e.to_string()))
}

fn kind(d: DeviceDirection) -> &'static str {
    match d {
        DeviceDirection::Input => "microphone",
        DeviceDirection::Output => "speaker",
    }
}

fn describe(event: &DeviceEvent) -> String {
    match event {
        DeviceEvent::Added { device } => {
            format!("added {}: {}", kind(device.direction), line(device))
        }
        DeviceEvent::Removed { device } => {
            format!("removed {}: {}", kind(device.direction), line(device))
        }
        DeviceEvent::DefaultChanged { direction, id } => {
            format!("default {} is now {}", kind(*direction), id.0)
        }
    }
}

fn line(d: &DeviceInfo) -> String {
    let mut tags = Vec::new();
    if d.is_default {
        tags.push("default");
    }
    if d.headset {
        tags.push("headset");
    }
    if d.bluetooth {
        tags.push("bluetooth");
    }
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(" ({})", tags.join(", "))
    };
    format!("{} [{}]{tags}", d.name, d.id.0)
}

fn print_list(devices: &[DeviceInfo]) {
    for (title, direction) in [
        ("Microphones", DeviceDirection::Input),
        ("Speakers", DeviceDirection::Output),
    ] {
        println!("{title}:");
        let mut any = false;
        for d in devices.iter().filter(|d| d.direction == direction) {
            println!("  {}", line(d));
            any = true;
        }
        if !any {
            println!("  (none)");
        }
    }
}
