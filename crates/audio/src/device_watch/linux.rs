//! The sound server on Linux (PulseAudio, or PipeWire's PulseAudio service), through libpulse:
//! its sinks (speakers) and sources (microphones, monitors left out) with their human names,
//! form factor and bus; change notifications; moving this process's streams to a chosen
//! device (our streams are opened through ALSA's PulseAudio plugin, on the default device).
//!
//! A standard libpulse main loop is driven by hand from the thread that owns the connection:
//! an operation runs the loop until it is done (or three seconds pass), and
//! [`Source::wait_change`] runs it for a while to hear change notifications.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use libpulse_binding as pulse;
use pulse::callbacks::ListResult;
use pulse::context::subscribe::InterestMaskSet;
use pulse::context::{Context, FlagSet, State};
use pulse::mainloop::standard::{IterateResult, Mainloop};
use pulse::operation::{Operation, State as OpState};
use pulse::proplist::Proplist;

use super::Source;
use crate::{AudioError, DeviceDirection, DeviceId, DeviceInfo};

/// How long the server may take to answer.
const PATIENCE: Duration = Duration::from_secs(3);

fn failed(detail: impl Into<String>) -> AudioError {
    AudioError::Device {
        what: "sound server",
        detail: detail.into(),
    }
}

/// A connection to the sound server.
pub(crate) struct SoundServer {
    // The context goes before its main loop (fields drop in this order): libpulse aborts when a
    // main loop is freed under a live context.
    context: Context,
    mainloop: Mainloop,
    /// Set by the server's change notifications.
    changed: Rc<Cell<bool>>,
}

impl SoundServer {
    /// Connects (never starting a server) and asks for change notifications.
    pub(crate) fn connect() -> Result<Self, AudioError> {
        let mainloop = Mainloop::new().ok_or_else(|| failed("libpulse: no main loop"))?;
        let mut props = Proplist::new().ok_or_else(|| failed("libpulse: no property list"))?;
        let _ = props.set_str(pulse::proplist::properties::APPLICATION_NAME, "Siperb");
        let context = Context::new_with_proplist(&mainloop, "Siperb devices", &props)
            .ok_or_else(|| failed("libpulse: no context"))?;
        let mut server = Self {
            context,
            mainloop,
            changed: Rc::new(Cell::new(false)),
        };
        server
            .context
            .connect(None, FlagSet::NOAUTOSPAWN, None)
            .map_err(|e| failed(format!("cannot connect: {e}")))?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            server.iterate()?;
            match server.context.get_state() {
                State::Ready => break,
                State::Failed | State::Terminated => {
                    return Err(failed("no PulseAudio or PipeWire server answered"));
                }
                _ => {}
            }
            if Instant::now() > deadline {
                return Err(failed("the sound server did not answer in time"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let changed = server.changed.clone();
        server
            .context
            .set_subscribe_callback(Some(Box::new(move |_, _, _| changed.set(true))));
        let op = server.context.subscribe(
            InterestMaskSet::SINK
                | InterestMaskSet::SOURCE
                | InterestMaskSet::SERVER
                | InterestMaskSet::CARD,
            |_| {},
        );
        server.finish(&op)?;
        Ok(server)
    }

    fn iterate(&mut self) -> Result<(), AudioError> {
        match self.mainloop.iterate(false) {
            IterateResult::Success(_) => Ok(()),
            IterateResult::Quit(_) => Err(failed("the main loop quit")),
            IterateResult::Err(e) => Err(failed(format!("libpulse: {e}"))),
        }
    }

    /// Fails unless the connection is up. libpulse returns no operation (and libpulse-binding
    /// panics) when asked anything on a dead connection: every request is checked first (the
    /// state only changes while the main loop runs, on this thread).
    fn ready(&self) -> Result<(), AudioError> {
        if self.context.get_state() == State::Ready {
            Ok(())
        } else {
            Err(failed("the connection to the sound server was lost"))
        }
    }

    /// Runs the main loop until `op` is done.
    fn finish<T: ?Sized>(&mut self, op: &Operation<T>) -> Result<(), AudioError> {
        let deadline = Instant::now() + PATIENCE;
        while op.get_state() == OpState::Running {
            self.iterate()?;
            self.ready()?;
            if Instant::now() > deadline {
                return Err(failed("the sound server did not answer in time"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Moves this process's streams of `direction` to `device`; says how many moved. (All of
    /// them: two calls at once share the user's devices.)
    pub(crate) fn move_our_streams(
        &mut self,
        direction: DeviceDirection,
        device: &DeviceId,
    ) -> Result<usize, AudioError> {
        self.ready()?;
        let pid = std::process::id().to_string();
        let ours = Rc::new(RefCell::new(Vec::new()));
        let introspect = self.context.introspect();
        // The ringer's stream stays on the ringer device.
        let is_ours = move |props: &Proplist| {
            props.get_str(pulse::proplist::properties::APPLICATION_PROCESS_ID) == Some(pid.clone())
                && props
                    .get_str(pulse::proplist::properties::MEDIA_NAME)
                    .as_deref()
                    != Some(crate::ringer::RINGER_STREAM)
        };
        match direction {
            DeviceDirection::Output => {
                let list = ours.clone();
                let op = introspect.get_sink_input_info_list(move |r| {
                    if let ListResult::Item(i) = r
                        && is_ours(&i.proplist)
                    {
                        list.borrow_mut().push(i.index);
                    }
                });
                self.finish(&op)?;
            }
            DeviceDirection::Input => {
                let list = ours.clone();
                let op = introspect.get_source_output_info_list(move |r| {
                    if let ListResult::Item(o) = r
                        && is_ours(&o.proplist)
                    {
                        list.borrow_mut().push(o.index);
                    }
                });
                self.finish(&op)?;
            }
        }
        let streams = ours.borrow().clone();
        let moved = Rc::new(Cell::new(0usize));
        for index in &streams {
            let done = moved.clone();
            let callback = Box::new(move |ok: bool| {
                if ok {
                    done.set(done.get() + 1);
                }
            });
            self.ready()?;
            let mut introspect = self.context.introspect();
            let op = match direction {
                DeviceDirection::Output => {
                    introspect.move_sink_input_by_name(*index, &device.0, Some(callback))
                }
                DeviceDirection::Input => {
                    introspect.move_source_output_by_name(*index, &device.0, Some(callback))
                }
            };
            self.finish(&op)?;
        }
        if moved.get() < streams.len() {
            return Err(failed(format!(
                "{} of our streams could not move to {} (is it still there?)",
                streams.len() - moved.get(),
                device.0
            )));
        }
        Ok(moved.get())
    }
}

/// Bluetooth cards: which card a device belongs to, its profiles, switching them.
impl SoundServer {
    /// The card `device` belongs to (none for virtual devices).
    pub(crate) fn card_of(
        &mut self,
        direction: DeviceDirection,
        device: &DeviceId,
    ) -> Result<Option<u32>, AudioError> {
        self.ready()?;
        let card = Rc::new(Cell::new(None));
        let found = card.clone();
        let introspect = self.context.introspect();
        match direction {
            DeviceDirection::Output => {
                let op = introspect.get_sink_info_by_name(&device.0, move |r| {
                    if let ListResult::Item(s) = r {
                        found.set(s.card);
                    }
                });
                self.finish(&op)?;
            }
            DeviceDirection::Input => {
                let op = introspect.get_source_info_by_name(&device.0, move |r| {
                    if let ListResult::Item(s) = r {
                        found.set(s.card);
                    }
                });
                self.finish(&op)?;
            }
        }
        Ok(card.get())
    }

    /// A card and its profiles.
    pub(crate) fn card(
        &mut self,
        index: u32,
    ) -> Result<Option<super::bluetooth::Card>, AudioError> {
        self.ready()?;
        let card = Rc::new(RefCell::new(None));
        let found = card.clone();
        let op = self
            .context
            .introspect()
            .get_card_info_by_index(index, move |r| {
                if let ListResult::Item(c) = r {
                    let name = |n: &Option<std::borrow::Cow<'_, str>>| {
                        n.as_deref().unwrap_or_default().to_owned()
                    };
                    *found.borrow_mut() = Some(super::bluetooth::Card {
                        index: c.index,
                        name: name(&c.name),
                        active: c.active_profile.as_ref().map(|p| name(&p.name)),
                        profiles: c
                            .profiles
                            .iter()
                            .map(|p| super::bluetooth::Profile {
                                name: name(&p.name),
                                sinks: p.n_sinks,
                                sources: p.n_sources,
                                priority: p.priority,
                                available: p.available,
                            })
                            .collect(),
                    });
                }
            });
        self.finish(&op)?;
        Ok(card.take())
    }

    /// Switches a card's profile; whether the server did.
    pub(crate) fn set_profile(&mut self, card: u32, profile: &str) -> Result<bool, AudioError> {
        self.ready()?;
        let done = Rc::new(Cell::new(false));
        let ok = done.clone();
        let op = self.context.introspect().set_card_profile_by_index(
            card,
            profile,
            Some(Box::new(move |success| ok.set(success))),
        );
        self.finish(&op)?;
        Ok(done.get())
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        self.context.disconnect();
    }
}

/// A device from the server's names and properties.
fn device(
    name: Option<&str>,
    description: Option<&str>,
    props: &Proplist,
    direction: DeviceDirection,
) -> Option<DeviceInfo> {
    let id = name?.to_owned();
    let form = props.get_str(pulse::proplist::properties::DEVICE_FORM_FACTOR);
    let bus = props.get_str(pulse::proplist::properties::DEVICE_BUS);
    let bluetooth = bus.as_deref() == Some("bluetooth");
    let mut info = DeviceInfo {
        name: description.map_or_else(|| id.clone(), str::to_owned),
        id: DeviceId(id),
        direction,
        is_default: false,
        headset: matches!(
            form.as_deref(),
            Some("headset" | "headphone" | "hands-free" | "handset")
        ),
        bluetooth,
    };
    info.headset = info.headset || info.looks_like_headset();
    Some(info)
}

impl Source for SoundServer {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, AudioError> {
        self.ready()?;
        let found = Rc::new(RefCell::new(Vec::new()));
        let defaults = Rc::new(RefCell::new((None::<String>, None::<String>)));
        let introspect = self.context.introspect();
        let d = defaults.clone();
        let server = introspect.get_server_info(move |info| {
            *d.borrow_mut() = (
                info.default_sink_name.as_deref().map(str::to_owned),
                info.default_source_name.as_deref().map(str::to_owned),
            );
        });
        let list = found.clone();
        let sinks = introspect.get_sink_info_list(move |r| {
            if let ListResult::Item(s) = r
                && let Some(d) = device(
                    s.name.as_deref(),
                    s.description.as_deref(),
                    &s.proplist,
                    DeviceDirection::Output,
                )
            {
                list.borrow_mut().push(d);
            }
        });
        self.finish(&server)?;
        self.ready()?;
        let (sink, source) = defaults.borrow().clone();
        let list = found.clone();
        let default_source = source.clone();
        let sources = introspect.get_source_info_list(move |r| {
            // A sink's monitor is not a microphone (unless the user made it the default one:
            // a loopback set up on purpose).
            if let ListResult::Item(s) = r
                && (s.monitor_of_sink.is_none() || s.name.as_deref() == default_source.as_deref())
                && let Some(d) = device(
                    s.name.as_deref(),
                    s.description.as_deref(),
                    &s.proplist,
                    DeviceDirection::Input,
                )
            {
                list.borrow_mut().push(d);
            }
        });
        self.finish(&sinks)?;
        self.finish(&sources)?;
        self.changed.set(false);
        let mut devices = found.borrow().clone();
        for d in &mut devices {
            let default = match d.direction {
                DeviceDirection::Output => &sink,
                DeviceDirection::Input => &source,
            };
            d.is_default = default.as_deref() == Some(d.id.0.as_str());
        }
        Ok(devices)
    }

    fn wait_change(&mut self, timeout: Duration) -> Result<bool, AudioError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.iterate()?;
            self.ready()?;
            if self.changed.get() {
                // Let a burst of notifications (a card brings several devices) settle.
                let settle = Instant::now() + Duration::from_millis(100);
                while Instant::now() < settle {
                    self.iterate()?;
                    std::thread::sleep(Duration::from_millis(10));
                }
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Keeps one call's streams on the devices its [`Routing`](crate::Routing) wants, moving them
/// through the sound server as devices come and go, and says where they went.
pub(crate) struct Router {
    server: SoundServer,
    routing: crate::Routing,
    known: Vec<DeviceInfo>,
    said: std::sync::mpsc::Sender<crate::AudioRoute>,
    /// Moves that found no stream of ours yet (the server is still setting up a stream just
    /// opened), input then output: tried again at each look, a few times.
    pending: [Option<Pending>; 2],
    /// Bluetooth cards switched to a headset profile for this call (given back at its end),
    /// and cards found without one (said once).
    switched: Vec<super::bluetooth::Switched>,
    no_call_profile: Vec<u32>,
}

struct Pending {
    to: DeviceId,
    /// The move to announce once made.
    say: Option<crate::AudioRoute>,
    tries: u32,
}

/// Looks (250 ms apart) a move waits for our stream to show up before it is given up.
const PENDING_TRIES: u32 = 20;

fn slot(direction: DeviceDirection) -> usize {
    match direction {
        DeviceDirection::Input => 0,
        DeviceDirection::Output => 1,
    }
}

impl Router {
    /// Connects and puts the (just opened) streams where the routing wants them.
    pub(crate) fn start(
        choice: crate::DeviceChoice,
        said: std::sync::mpsc::Sender<crate::AudioRoute>,
    ) -> Result<Self, AudioError> {
        let mut server = SoundServer::connect()?;
        let known = server.devices()?;
        let mut routing = crate::Routing::new(choice);
        let routes = routing.start(known.clone());
        let mut router = Self {
            server,
            routing,
            known,
            said,
            pending: [None, None],
            switched: Vec::new(),
            no_call_profile: Vec::new(),
        };
        router.apply(routes);
        router.bluetooth();
        Ok(router)
    }

    /// Looks for device changes (without waiting) and follows them.
    pub(crate) fn poll(&mut self) {
        for direction in [DeviceDirection::Input, DeviceDirection::Output] {
            if let Some(p) = self.pending[slot(direction)].take() {
                self.put(direction, p.to, p.say, p.tries + 1);
            }
        }
        match self.server.wait_change(Duration::ZERO) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::debug!("device routing: {e}");
                return;
            }
        }
        let now = match self.server.devices() {
            Ok(now) => now,
            Err(e) => {
                tracing::debug!("device routing: {e}");
                return;
            }
        };
        let events = super::changes(&self.known, &now);
        self.known = now.clone();
        let routes = self.routing.changed(now, &events);
        self.apply(routes);
        self.bluetooth();
    }

    /// A Bluetooth device the call plays on, in its music profile (no microphone): its card
    /// goes to a headset profile for the call (its headset sink and microphone then appear,
    /// and the routing takes them as a new headset). Without one, the UI is told.
    fn bluetooth(&mut self) {
        use super::bluetooth::{CallProfile, Switched};
        for direction in [DeviceDirection::Output, DeviceDirection::Input] {
            let current = self.routing.current(direction).cloned();
            let Some(device) = self
                .known
                .iter()
                .find(|d| {
                    d.direction == direction
                        && d.bluetooth
                        && current.as_ref().map_or(d.is_default, |id| *id == d.id)
                })
                .cloned()
            else {
                continue;
            };
            let Ok(Some(index)) = self.server.card_of(direction, &device.id) else {
                continue;
            };
            if self.switched.iter().any(|s| s.card == index)
                || self.no_call_profile.contains(&index)
            {
                continue;
            }
            let Ok(Some(card)) = self.server.card(index) else {
                continue;
            };
            match card.for_call() {
                CallProfile::Ready => {}
                CallProfile::Switch(profile) => match self.server.set_profile(index, &profile) {
                    Ok(true) => {
                        tracing::info!("{} switched to {profile} for the call", device.name);
                        self.switched.push(Switched {
                            card: index,
                            before: card.active.clone().unwrap_or_default(),
                            call: profile,
                        });
                    }
                    Ok(false) => tracing::warn!("{} refused the profile {profile}", card.name),
                    Err(e) => tracing::warn!("cannot switch {}: {e}", card.name),
                },
                CallProfile::None => {
                    tracing::warn!("{} has no profile with a microphone", device.name);
                    self.no_call_profile.push(index);
                    let _ = self.said.send(crate::AudioRoute {
                        direction: DeviceDirection::Input,
                        device: Some(device),
                        reason: crate::RouteReason::NoCallProfile,
                    });
                }
            }
        }
    }

    /// The user picked a device for one direction (`None`: the default).
    pub(crate) fn choose(
        &mut self,
        direction: DeviceDirection,
        device: Option<crate::ChosenDevice>,
    ) {
        let routes = self.routing.choose(direction, device);
        self.apply(routes);
    }

    /// A stream was rebuilt (on the default device): back to where it belongs.
    pub(crate) fn reapply(&mut self) {
        for direction in [DeviceDirection::Input, DeviceDirection::Output] {
            // (A move still waiting for its stream is tried again anyway.)
            if self.pending[slot(direction)].is_none()
                && let Some(id) = self.routing.current(direction).cloned()
            {
                self.put(direction, id, None, 0);
            }
        }
    }

    fn apply(&mut self, routes: Vec<crate::AudioRoute>) {
        for route in routes {
            // To the device wanted, or to the default when none is.
            let target = route.device.as_ref().map(|d| d.id.clone()).or_else(|| {
                self.known
                    .iter()
                    .find(|d| d.direction == route.direction && d.is_default)
                    .map(|d| d.id.clone())
            });
            let Some(id) = target else { continue };
            self.put(route.direction, id, Some(route), 0);
        }
    }

    /// Moves our streams of `direction` to `to`; announces `say` once that happened.
    fn put(
        &mut self,
        direction: DeviceDirection,
        to: DeviceId,
        say: Option<crate::AudioRoute>,
        tries: u32,
    ) {
        match self.server.move_our_streams(direction, &to) {
            Ok(0) if tries < PENDING_TRIES => {
                self.pending[slot(direction)] = Some(Pending { to, say, tries });
            }
            Ok(0) => tracing::warn!(
                "the call's audio stream did not show up to move to {}",
                to.0
            ),
            Ok(_) => {
                if let Some(route) = say {
                    tracing::info!(
                        "the call's {} is now {} ({:?})",
                        match direction {
                            DeviceDirection::Input => "microphone",
                            DeviceDirection::Output => "speaker",
                        },
                        route
                            .device
                            .as_ref()
                            .map_or("the default", |d| d.name.as_str()),
                        route.reason
                    );
                    // Said only when it happened: the UI shows where the audio really is.
                    let _ = self.said.send(route);
                }
            }
            Err(e) => tracing::warn!("cannot move the call's audio to {}: {e}", to.0),
        }
    }
}

impl Drop for Router {
    /// The call is over: Bluetooth cards switched for it go back to the profile they had
    /// (unless the user changed it meanwhile).
    fn drop(&mut self) {
        for switched in std::mem::take(&mut self.switched) {
            let Ok(Some(card)) = self.server.card(switched.card) else {
                continue;
            };
            if let Some(before) = switched.restore(&card) {
                match self.server.set_profile(card.index, &before) {
                    Ok(true) => tracing::info!("{} back to {before}", card.name),
                    _ => tracing::warn!("cannot give {} its profile {before} back", card.name),
                }
            }
        }
    }
}
