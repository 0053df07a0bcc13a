//! A call's microphone and speaker on JACK as one client (`SIPERB_AUDIO_HOST=jack`).
//!
//! cpal's JACK host opens a JACK client per stream, so a call had two: two real-time threads
//! that the server wakes one after the other every period. Here one client has the call's
//! input and output port, and one process callback moves both directions: half the wake-ups
//! (the media benchmark measured the other client's thread at a third of a call's CPU).
//!
//! The client is `siperb_<pid>` (JACK adds `-01`, `-02` for a second call of the same
//! process) with the ports `in` and `out`, connected to the first physical capture port and
//! the first two physical playback ports. The callback only moves samples through the port's
//! rings (no allocation, lock, log or I/O).

use std::time::Duration;

use crate::port::{AudioError, AudioPort, CaptureSide, Device, PlaybackSide};

/// The JACK client name of this process's calls.
fn client_name() -> String {
    format!("siperb_{}", std::process::id())
}

/// The process callback: the period's microphone samples in, the speaker's out.
struct Duplex {
    input: jack::Port<jack::AudioIn>,
    output: jack::Port<jack::AudioOut>,
    capture: CaptureSide,
    playback: PlaybackSide,
}

impl jack::ProcessHandler for Duplex {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        self.capture.push(self.input.as_slice(ps));
        self.playback
            .fill_interleaved(self.output.as_mut_slice(ps), 1, |s| s);
        jack::Control::Continue
    }
}

/// Keeps the client active until the port closes.
struct JackDevice {
    client: Option<jack::AsyncClient<(), Duplex>>,
}

impl Device for JackDevice {
    fn close(&mut self) -> Result<(), AudioError> {
        if let Some(client) = self.client.take() {
            client.deactivate().map_err(jack_error("audio"))?;
        }
        Ok(())
    }

    fn choose(
        &mut self,
        _direction: crate::DeviceDirection,
        _device: Option<crate::ChosenDevice>,
    ) -> Result<(), AudioError> {
        Err(AudioError::Device {
            what: "audio",
            detail: "on JACK, connect the call's ports (siperb_<pid>:in and :out) with a \
                     patchbay"
                .into(),
        })
    }
}

fn jack_error(what: &'static str) -> impl Fn(jack::Error) -> AudioError {
    move |e| AudioError::Device {
        what,
        detail: format!("JACK: {e}"),
    }
}

/// Opens the call's microphone and speaker as one JACK client, at the server's rate.
///
/// From a thread of its own: the client's real-time thread takes the name of the thread that
/// activates it, so it shows as `siperb-jack` (not as whichever runtime worker placed the
/// call) in `top -H` and the media benchmark's per-thread figures.
pub(crate) fn open() -> Result<AudioPort, AudioError> {
    std::thread::Builder::new()
        .name("siperb-jack".into())
        .spawn(open_here)
        .map_err(|e| AudioError::Device {
            what: "audio",
            detail: e.to_string(),
        })?
        .join()
        .map_err(|_| AudioError::Device {
            what: "audio",
            detail: "opening the JACK client failed".into(),
        })?
}

fn open_here() -> Result<AudioPort, AudioError> {
    let (client, status) = jack::Client::new(&client_name(), jack::ClientOptions::NO_START_SERVER)
        .map_err(|e| AudioError::Host(format!("JACK: {e} (is a JACK server running?)")))?;
    if status.intersects(jack::ClientStatus::VERSION_ERROR) {
        return Err(AudioError::Host(
            "JACK: this libjack does not speak the server's protocol version".into(),
        ));
    }
    let rate = client.sample_rate();
    let period =
        Duration::from_micros(u64::from(client.buffer_size()) * 1_000_000 / u64::from(rate.max(1)));
    let input = client
        .register_port("in", jack::AudioIn::default())
        .map_err(jack_error("microphone"))?;
    let output = client
        .register_port("out", jack::AudioOut::default())
        .map_err(jack_error("speaker"))?;
    let names = (input.name(), output.name());
    let (mut port, capture, playback) = AudioPort::new(rate, "JACK");
    // What the echo canceller must allow for: a period on the way in, one on the way out.
    let counters = port.counters();
    counters.latency(true, period);
    counters.latency(false, period);
    let active = jack::AsyncClient::new(
        client,
        (),
        Duplex {
            input,
            output,
            capture,
            playback,
        },
    )
    .map_err(jack_error("audio"))?;
    if let (Ok(ours_in), Ok(ours_out)) = names {
        connect_physical(active.as_client(), &ours_in, &ours_out);
    }
    port.attach(Box::new(JackDevice {
        client: Some(active),
    }));
    Ok(port)
}

/// Connects our input to the first physical capture port and our output to the first two
/// physical playback ports (both ears), as far as there are such ports.
fn connect_physical(client: &jack::Client, ours_in: &str, ours_out: &str) {
    let physical = |flags: jack::PortFlags| {
        // The type pattern is a regular expression; audio ports are "32 bit float mono audio".
        client.ports(None, Some("audio"), flags | jack::PortFlags::IS_PHYSICAL)
    };
    for capture in physical(jack::PortFlags::IS_OUTPUT).iter().take(1) {
        if let Err(e) = client.connect_ports_by_name(capture, ours_in) {
            tracing::debug!("JACK: {capture} -> {ours_in}: {e}");
        }
    }
    for speaker in physical(jack::PortFlags::IS_INPUT).iter().take(2) {
        if let Err(e) = client.connect_ports_by_name(ours_out, speaker) {
            tracing::debug!("JACK: {ours_out} -> {speaker}: {e}");
        }
    }
}
