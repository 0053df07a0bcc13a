//! What the media task does to the microphone's frames before encoding them: echo
//! cancellation on loudspeakers only, noise suppression and gain, and the echo path's delay
//! told to the canceller.

use siperb_audio::AudioPort;

/// Once a second (from the second second on): tells the canceller the delay it must allow for,
/// from what the rings and the devices say. The least seen in that second counts (a device
/// that delivers in bursts only ever adds to it), and four fifths of it: a hint beyond the
/// real delay would hide the echo from the canceller; the rest it finds itself.
pub(super) fn tell_echo_delay(
    processor: &mut Option<Result<siperb_audio::AudioProcessor, ()>>,
    floor_seen: &mut Option<std::time::Duration>,
    frames: u64,
    port: &AudioPort,
) {
    let Some(Ok(p)) = processor.as_mut() else {
        return;
    };
    let now = port.echo_path_delay();
    *floor_seen = Some(floor_seen.map_or(now, |d| d.min(now)));
    if !frames.is_multiple_of(50) {
        return;
    }
    let Some(floor) = floor_seen.take() else {
        return;
    };
    if frames < 100 {
        return; // The first second: the devices are still starting.
    }
    let known = floor.as_millis();
    let hint = u32::try_from(known * 4 / 5)
        .unwrap_or(u32::MAX)
        .min(siperb_audio::processing::MAX_ECHO_DELAY_HINT_MS);
    if hint.abs_diff(p.echo_delay_hint()) > 30 {
        tracing::debug!("echo path: at least {known} ms, the canceller is told {hint} ms");
        p.set_echo_delay_hint(hint);
    }
}

/// The processing a frame gets: echo cancellation only while the call plays on a loudspeaker.
pub(super) fn speaker_processing(
    config: siperb_audio::ProcessingConfig,
    headset: bool,
) -> siperb_audio::ProcessingConfig {
    siperb_audio::ProcessingConfig {
        echo_cancellation: config.echo_cancellation && !headset,
        ..config
    }
}

/// Cleans the captured frame (echo, noise, level) as the call's switches say, after the
/// frame played at the same time went to the canceller. The processor is made when first
/// needed and kept (its filters have learnt the room) while switches change.
pub(super) fn process_microphone(
    processor: &mut Option<Result<siperb_audio::AudioProcessor, ()>>,
    config: siperb_audio::ProcessingConfig,
    rate: u32,
    captured: &mut [f32],
    muted: bool,
) {
    if !config.any() && processor.is_none() {
        return;
    }
    let p = processor.get_or_insert_with(|| {
        siperb_audio::AudioProcessor::new(config, rate).map_err(|e| {
            tracing::warn!("no echo cancellation or noise suppression on this call: {e}");
        })
    });
    let Ok(p) = p else { return };
    if p.config() != config {
        p.set_config(config);
    }
    if config.any() && !muted {
        let _ = p.capture(captured);
    }
}

#[cfg(test)]
mod tests {
    use siperb_audio::ProcessingConfig;

    #[test]
    fn echo_cancellation_is_for_loudspeakers_only() {
        let all = ProcessingConfig {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
        };
        assert_eq!(super::speaker_processing(all, false), all);
        let on_headset = super::speaker_processing(all, true);
        assert!(!on_headset.echo_cancellation);
        assert!(on_headset.noise_suppression && on_headset.auto_gain);
    }
}
