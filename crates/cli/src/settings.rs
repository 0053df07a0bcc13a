//! `siperb-cli settings …`: show the settings, or change the theme, the call devices or the
//! ringer. Device names are looked up in the sound system's list (as `devices` prints it).

use siperb_audio::DeviceDirection::{Input, Output};
use siperb_audio::{DeviceInfo, Ringtone};
use siperb_engine::{AccountId, EngineHandle};

use crate::error::CliError;
use crate::{OnOff, SettingsCommand, devices, to_json};

pub(crate) async fn run(engine: &EngineHandle, cmd: SettingsCommand) -> Result<(), CliError> {
    let settings = match cmd {
        SettingsCommand::Show => engine.settings().await?,
        SettingsCommand::Theme { theme } => engine.set_theme(theme.into()).await?,
        SettingsCommand::Devices {
            microphone,
            speaker,
            follow_headsets,
        } => {
            let mut choice = engine.settings().await?.devices;
            if microphone.is_some() || speaker.is_some() {
                let devices = list().await?;
                if let Some(name) = microphone {
                    choice.microphone = devices::chosen(&devices, Input, &name)?;
                }
                if let Some(name) = speaker {
                    choice.speaker = devices::chosen(&devices, Output, &name)?;
                }
            }
            if let Some(on) = follow_headsets {
                choice.follow_headsets = on == OnOff::On;
            }
            engine.set_devices(choice).await?
        }
        SettingsCommand::Processing {
            echo_cancellation,
            noise_suppression,
            auto_gain,
        } => {
            let mut p = engine.settings().await?.processing;
            let set = |flag: &mut bool, value: Option<OnOff>| {
                if let Some(v) = value {
                    *flag = v == OnOff::On;
                }
            };
            set(&mut p.echo_cancellation, echo_cancellation);
            set(&mut p.noise_suppression, noise_suppression);
            set(&mut p.auto_gain, auto_gain);
            engine.set_processing(p).await?
        }
        SettingsCommand::Ringer {
            device,
            ringtone,
            volume,
            follow_headsets,
            account,
        } => {
            let tone = |name: &str| {
                if name.eq_ignore_ascii_case("default") {
                    Ok(None)
                } else {
                    name.parse::<Ringtone>().map(Some).map_err(CliError::Usage)
                }
            };
            if let Some(account) = account {
                let Some(name) = ringtone else {
                    return Err(CliError::Usage(
                        "--account sets that account's ringtone: give --ringtone NAME|default"
                            .into(),
                    ));
                };
                if device.is_some() || volume.is_some() || follow_headsets.is_some() {
                    return Err(CliError::Usage(
                        "the ringer device, volume and headsets are the same for every account; \
                         leave out --account to set them"
                            .into(),
                    ));
                }
                let known = engine.accounts().await?;
                if !known.iter().any(|a| a.id.0 == account) {
                    return Err(siperb_engine::EngineError::NoSuchAccount(account).into());
                }
                engine
                    .set_account_ringtone(AccountId(account), tone(&name)?)
                    .await?
            } else {
                let mut ringer = engine.settings().await?.ringer;
                if let Some(name) = device {
                    ringer.device = devices::chosen(&list().await?, Output, &name)?;
                }
                if let Some(name) = ringtone {
                    ringer.ringtone = tone(&name)?.unwrap_or_default();
                }
                if let Some(v) = volume {
                    ringer.volume = v;
                }
                if let Some(on) = follow_headsets {
                    ringer.follow_headsets = on == OnOff::On;
                }
                engine.set_ringer(ringer).await?
            }
        }
    };
    println!("{}", to_json(&settings));
    Ok(())
}

async fn list() -> Result<Vec<DeviceInfo>, CliError> {
    tokio::task::spawn_blocking(siperb_audio::list_devices)
        .await
        .map_err(|e| CliError::Devices(e.to_string()))?
        .map_err(|e| CliError::Devices(e.to_string()))
}
