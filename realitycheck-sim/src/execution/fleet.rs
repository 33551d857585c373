//! The capacity of the Nomad client group and its autoscaler: when each docker container of a
//! job with `parallelism` starts, which clients Nomad lists at each moment, and what its jobs
//! wait for.
//!
//! Only the containers of jobs with `parallelism` go through this model; every other job keeps
//! the fixed [`super::JobTiming`] (an executor takes it after the queue time, whatever else runs),
//! so that what the checks of a run see does not depend on the load.
//!
//! The clients are those of the installation that take docker jobs. A container fits a client
//! when the vCPUs of what runs there and its own stay within the client's vCPUs, and their memory
//! within the client's memory less what its agent reserves ([`ClientSize`]). Waiting containers
//! are placed in the order they reached Nomad, each on the first client with room (clients in the
//! order they joined); one that fits nowhere yet does not hold back those behind it (Nomad
//! evaluates each job on its own), and one of a class no client of the group's size can hold
//! waits until it is cancelled.
//!
//! The autoscaler (when the release enables it) evaluates every [`EVALUATION`], counted from the
//! simulation's start. When containers wait, the group (clients ready and booting) is below the
//! release's `max` and [`COOLDOWN`] has passed since its last scale-out, it asks for as many
//! clients as the waiting containers need (those a client of the group's size can hold, packed
//! in order onto new clients; the cooldown outlasts a boot, so none is booting then), up to
//! `max`. Each new client joins Nomad
//! (ready, eligible, in the node list, named like the instances CircleCI's Terraform starts)
//! [`BOOT`] later and takes containers. When the cloud group's own maximum is below what it
//! asks, the cloud refuses: it logs the error and adds none (and no cooldown follows). It never
//! scales in. Once nothing else can change, its further evaluations are not modelled.
//!
//! Machine, Arm and Windows containers get a VM each, [`VM_START`] after they queue, whatever
//! else runs ([`super::pipelines`] times them).
//!
//! Every duration is a real installation's, [`scaled`] to the simulation's speed. The model keeps
//! every container asked for (when it reached Nomad, how long it holds its client, when it was
//! cancelled) and computes the whole schedule from them, deterministically, in
//! `tokio::time::Instant`s: a later pipeline or a cancellation changes only what comes after it.
//! The execution plane shows each container's start from it; the `nomad` CLI and the Nomad HTTP
//! API show the clients and the jobs from it ([`Fleet::nomad_at`]), both through one
//! [`SharedFleet`], so that they agree at every instant.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::timing::scaled;
use crate::ids;
use crate::installation::{Autoscaler, Installation};
use crate::nomad::{AllocationStatus, ClientSize, NomadClient, NomadJob, NomadState};
use crate::project::executor::ClassSize;

/// How often the autoscaler evaluates its policy (a minute).
pub const EVALUATION: Duration = scaled(Duration::from_secs(60));
/// How long after a scale-out the autoscaler scales out again at the soonest (two minutes).
pub const COOLDOWN: Duration = scaled(Duration::from_secs(120));
/// How long a new client takes from the scale-out to joining Nomad (a minute).
pub const BOOT: Duration = scaled(Duration::from_secs(60));
// The autoscaler never evaluates while clients it added boot.
const _: () = assert!(COOLDOWN.as_nanos() >= BOOT.as_nanos());
/// How long the machine provisioner takes to start a VM (a minute).
pub const VM_START: Duration = scaled(Duration::from_secs(60));

/// Longer than any simulation runs.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3_600);
/// The first address of the clients the autoscaler adds.
const ADDED_CLIENTS_FROM: Ipv4Addr = Ipv4Addr::new(10, 0, 103, 10);
/// The Raft index of the first Nomad job submitted.
const FIRST_JOB_INDEX: u64 = 10_000;

/// A docker container of a job with parallelism, which a Nomad client must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// The ID of the Nomad job the docker provisioner submits for it.
    pub job_id: String,
    /// What its resource class asks of a client.
    pub size: ClassSize,
    /// When it reaches Nomad.
    pub queued: Instant,
    /// How long it holds its client once it starts.
    pub hold: Duration,
    /// When its workflow was cancelled, if it was.
    pub canceled: Option<Instant>,
}

/// What the autoscaler did at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// It grew the group from `from` to `to` clients.
    ScaledOut { at: Instant, from: u32, to: u32 },
    /// It asked for `to`, and the cloud refused it above the group's own maximum.
    Refused { at: Instant, from: u32, to: u32, group_max: u32 },
}

/// What the demands come to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Schedule {
    /// When each demand's container starts, if it does.
    starts: Vec<Option<Instant>>,
    /// When each client the autoscaler added joins Nomad, in the order it asked for them.
    joined: Vec<Instant>,
    /// The autoscaler's scale-outs and refusals, in time order.
    actions: Vec<Action>,
}

/// The Nomad client group of one simulation, its autoscaler and the containers it runs.
#[derive(Debug)]
pub struct Fleet {
    /// The cluster as the installation starts it.
    base: NomadState,
    autoscaler: Autoscaler,
    /// What a client the autoscaler adds is like: the first client that takes docker jobs.
    template: NomadClient,
    /// The simulation's start, from which the autoscaler's evaluations are counted.
    origin: Instant,
    /// The wall-clock time of `origin`.
    origin_wall: Timestamp,
    demands: Vec<Demand>,
    /// `None` until computed, and again after a change.
    schedule: Option<Schedule>,
}

impl Fleet {
    /// The client group of `installation`, with no container yet, started at `origin`.
    pub fn new(installation: &Installation, origin: Instant) -> Self {
        let nomad = &installation.nomad;
        let template = nomad
            .clients
            .iter()
            .find(|client| client.takes_docker_jobs())
            .or_else(|| nomad.clients.first())
            .cloned()
            .unwrap_or_else(|| {
                NomadClient::launched("template", ADDED_CLIENTS_FROM, ClientSize::T3A_2XLARGE, installation.started_at)
            });
        Self {
            base: nomad.clone(),
            autoscaler: installation.autoscaler,
            template,
            origin,
            origin_wall: installation.started_at,
            demands: Vec::new(),
            schedule: None,
        }
    }

    /// Adds a container; returns its index, by which [`Self::start_of`] and [`Self::cancel`]
    /// name it.
    pub fn add(&mut self, demand: Demand) -> usize {
        self.demands.push(demand);
        self.schedule = None;
        self.demands.len() - 1
    }

    /// The workflow of container `demand` was cancelled at `at`: it leaves the queue, or its
    /// client, then (unless it ended before).
    pub fn cancel(&mut self, demand: usize, at: Instant) {
        if let Some(demand) = self.demands.get_mut(demand) {
            demand.canceled = Some(demand.canceled.map_or(at, |earlier| earlier.min(at)));
            self.schedule = None;
        }
    }

    /// When container `demand` starts, if it ever does.
    pub fn start_of(&mut self, demand: usize) -> Option<Instant> {
        self.schedule().starts.get(demand).copied().flatten()
    }

    /// The Nomad cluster at `now`: the installation's, with the clients the autoscaler added that
    /// have joined and a batch job for each container that has reached Nomad.
    pub fn nomad_at(&mut self, now: Instant) -> NomadState {
        let schedule = self.schedule().clone();
        let mut state = self.base.clone();
        let first_index = self.base.clients.iter().map(|client| client.modify_index).max().unwrap_or(100);
        for (number, joined) in schedule.joined.iter().enumerate().filter(|(_, joined)| **joined <= now) {
            state.clients.push(self.added_client(number, *joined, first_index));
        }
        for (number, (demand, start)) in self.demands.iter().zip(&schedule.starts).enumerate() {
            if demand.queued > now || demand.canceled.is_some_and(|canceled| canceled <= demand.queued) {
                continue;
            }
            let stopped = demand.canceled.is_some_and(|canceled| canceled <= now);
            let allocation = match start {
                Some(start) if *start <= now && end_of(demand, *start) <= now => AllocationStatus::Complete,
                Some(start) if *start <= now => AllocationStatus::Running,
                _ if stopped => AllocationStatus::NeverPlaced,
                _ => AllocationStatus::Queued,
            };
            let create_index = FIRST_JOB_INDEX + 10 * u64::try_from(number).unwrap_or(u64::MAX / 20);
            let changes = match allocation {
                AllocationStatus::Queued => 0,
                AllocationStatus::Running => 1,
                AllocationStatus::Complete | AllocationStatus::NeverPlaced => 2,
            };
            state.jobs.push(NomadJob {
                id: demand.job_id.clone(),
                submitted_at: self.wall(demand.queued),
                stopped,
                allocation,
                create_index,
                modify_index: create_index + changes,
            });
        }
        state
    }

    /// What the autoscaler logged by `now`: each scale-out (`level=info`) and each refusal of
    /// the cloud (`level=error`), at its wall-clock time.
    pub fn autoscaler_log(&mut self, now: Instant) -> Vec<(Timestamp, String)> {
        let actions = self.schedule().actions.clone();
        actions
            .into_iter()
            .filter_map(|action| match action {
                Action::ScaledOut { at, from, to } if at <= now => Some((
                    self.wall(at),
                    format!(
                        "level=info msg=\"scaling target\" target=aws-asg from={from} to={to} reason=\"allocations \
                         are queued\""
                    ),
                )),
                Action::Refused { at, from, to, group_max } if at <= now => {
                    let request = ids::uuid(&format!("SetDesiredCapacity {}", self.wall(at)));
                    Some((
                        self.wall(at),
                        format!(
                            "level=error msg=\"failed to scale target\" target=aws-asg from={from} to={to} \
                             error=\"failed to scale out AWS AutoScaling Group: operation error Auto Scaling: \
                             SetDesiredCapacity, https response error StatusCode: 400, RequestID: {request}, api \
                             error ValidationError: New SetDesiredCapacity value {to} is above max value \
                             {group_max} for the AutoScalingGroup.\""
                        ),
                    ))
                }
                _ => None,
            })
            .collect()
    }

    /// The schedule of the demands, computed once after each change.
    fn schedule(&mut self) -> &Schedule {
        if self.schedule.is_none() {
            self.schedule = Some(self.compute());
        }
        self.schedule.get_or_insert_with(Schedule::default)
    }

    /// The wall-clock time of `at`.
    fn wall(&self, at: Instant) -> Timestamp {
        let since = SignedDuration::try_from(at.saturating_duration_since(self.origin)).unwrap_or(SignedDuration::MAX);
        self.origin_wall.checked_add(since).unwrap_or(self.origin_wall)
    }

    /// The `number`th client the autoscaler added (from 0), which joined at `joined`.
    fn added_client(&self, number: usize, joined: Instant, first_index: u64) -> NomadClient {
        let offset = u32::try_from(number).unwrap_or(u32::MAX);
        let address = Ipv4Addr::from(u32::from(ADDED_CLIENTS_FROM).saturating_add(offset));
        let name = format!("i-0{:016x}", ids::stable_hash(&format!("nomad client added {number}")));
        let create_index = first_index + 10 * (u64::from(offset) + 1);
        NomadClient {
            id: ids::uuid(&name),
            name,
            address,
            registered_at: self.wall(joined),
            create_index,
            modify_index: create_index + 3,
            ..self.template.clone()
        }
    }

    /// Runs the group through every event the demands and the autoscaler make.
    fn compute(&self) -> Schedule {
        let mut run = Run::new(self);
        run.run();
        Schedule {
            starts: run.starts,
            joined: run.slots.iter().filter_map(|slot| slot.added).collect(),
            actions: run.actions,
        }
    }
}

/// When a container that started at `start` leaves its client: at its end (a century on, for a
/// hold beyond what an `Instant` counts), or at its cancellation.
fn end_of(demand: &Demand, start: Instant) -> Instant {
    let end = start.checked_add(demand.hold).unwrap_or_else(|| start + CENTURY);
    demand.canceled.filter(|canceled| *canceled > start).map_or(end, |canceled| canceled.min(end))
}

/// A client of the group in [`Run`].
#[derive(Debug, Clone)]
struct Slot {
    size: ClientSize,
    /// When it joins; the installation's own clients have joined before the start.
    joins: Instant,
    /// When the autoscaler's scale-out made it join, for the clients it added.
    added: Option<Instant>,
    cpus_used: u32,
    memory_used_mib: u64,
}

impl Slot {
    fn holds(&self, size: ClassSize) -> bool {
        self.cpus_used + size.cpus <= self.size.cpus
            && self.memory_used_mib + size.memory_mib <= self.size.schedulable_memory_mib()
    }
}

/// One computation of a [`Schedule`]: the state of the group as time goes on.
struct Run<'a> {
    fleet: &'a Fleet,
    slots: Vec<Slot>,
    /// The clients the autoscaler counts besides the slots: those of the installation that take
    /// no docker jobs.
    idle_members: u32,
    /// Demands by the time they reach Nomad, not yet arrived.
    arrivals: Vec<usize>,
    /// Demands waiting, in the order they arrived.
    waiting: Vec<usize>,
    /// Containers running: demand, slot, end.
    running: Vec<(usize, usize, Instant)>,
    last_scale_out: Option<Instant>,
    starts: Vec<Option<Instant>>,
    actions: Vec<Action>,
}

impl<'a> Run<'a> {
    fn new(fleet: &'a Fleet) -> Self {
        let origin = fleet.origin;
        let slots: Vec<Slot> = fleet
            .base
            .clients
            .iter()
            .filter(|client| client.takes_docker_jobs())
            .map(|client| Slot { size: client.size, joins: origin, added: None, cpus_used: 0, memory_used_mib: 0 })
            .collect();
        let idle_members = u32::try_from(fleet.base.clients.len() - slots.len()).unwrap_or(u32::MAX);
        let mut arrivals: Vec<usize> = (0..fleet.demands.len()).collect();
        // Latest last: the next arrival is popped from the end.
        arrivals.sort_by_key(|&demand| std::cmp::Reverse((fleet.demands[demand].queued, demand)));
        Self {
            fleet,
            slots,
            idle_members,
            arrivals,
            waiting: Vec::new(),
            running: Vec::new(),
            last_scale_out: None,
            starts: vec![None; fleet.demands.len()],
            actions: Vec::new(),
        }
    }

    fn run(&mut self) {
        let mut now = self.fleet.origin;
        loop {
            let next_event = [
                self.arrivals.last().map(|&demand| self.fleet.demands[demand].queued),
                self.running.iter().map(|(_, _, end)| *end).min(),
                self.slots.iter().map(|slot| slot.joins).filter(|joins| *joins > now).min(),
                self.waiting.iter().filter_map(|&demand| self.fleet.demands[demand].canceled).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let evaluates = self.fleet.autoscaler.enabled && !self.waiting.is_empty();
            let next_evaluation = evaluates.then(|| self.evaluation_after(now));
            let Some(at) = [next_event, next_evaluation].into_iter().flatten().min() else { break };
            now = at;
            self.advance_to(now);
            self.place(now);
            if self.fleet.autoscaler.enabled && self.is_evaluation(now) {
                let scaled_out = self.evaluate(now);
                // Nothing else will happen: the next evaluations would decide the same.
                let cooled = self.last_scale_out.is_none_or(|last| now >= last + COOLDOWN);
                if next_event.is_none() && !scaled_out && cooled {
                    break;
                }
            }
        }
    }

    /// The first evaluation after `now`.
    fn evaluation_after(&self, now: Instant) -> Instant {
        let elapsed = now.saturating_duration_since(self.fleet.origin);
        let done = elapsed.as_nanos() / EVALUATION.as_nanos();
        let next = u32::try_from(done + 1).unwrap_or(u32::MAX);
        self.fleet.origin + EVALUATION * next
    }

    fn is_evaluation(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.fleet.origin);
        !elapsed.is_zero() && elapsed.as_nanos().is_multiple_of(EVALUATION.as_nanos())
    }

    /// Ends what ended by `now`, drops the waiting containers cancelled by then and queues those
    /// that arrived.
    fn advance_to(&mut self, now: Instant) {
        let (ended, running): (Vec<_>, Vec<_>) = self.running.drain(..).partition(|(_, _, end)| *end <= now);
        self.running = running;
        for (demand, slot, _) in ended {
            let size = self.fleet.demands[demand].size;
            let slot = &mut self.slots[slot];
            slot.cpus_used -= size.cpus;
            slot.memory_used_mib -= size.memory_mib;
        }
        let demands = &self.fleet.demands;
        self.waiting.retain(|&demand| demands[demand].canceled.is_none_or(|canceled| canceled > now));
        while let Some(&demand) = self.arrivals.last() {
            if demands[demand].queued > now {
                break;
            }
            self.arrivals.pop();
            if demands[demand].canceled.is_none_or(|canceled| canceled > now) {
                self.waiting.push(demand);
            }
        }
    }

    /// Starts every waiting container that fits a client that has joined, in order.
    fn place(&mut self, now: Instant) {
        let mut still_waiting = Vec::with_capacity(self.waiting.len());
        for demand in std::mem::take(&mut self.waiting) {
            let request = &self.fleet.demands[demand];
            match self.slots.iter().position(|slot| slot.joins <= now && slot.holds(request.size)) {
                Some(index) => {
                    let slot = &mut self.slots[index];
                    slot.cpus_used += request.size.cpus;
                    slot.memory_used_mib += request.size.memory_mib;
                    self.starts[demand] = Some(now);
                    self.running.push((demand, index, end_of(request, now)));
                }
                None => still_waiting.push(demand),
            }
        }
        self.waiting = still_waiting;
    }

    /// The autoscaler's evaluation at `now`; whether it added clients.
    fn evaluate(&mut self, now: Instant) -> bool {
        let autoscaler = self.fleet.autoscaler;
        if self.waiting.is_empty() || self.last_scale_out.is_some_and(|last| now < last + COOLDOWN) {
            return false;
        }
        let group = self.idle_members + u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        let wanted = (group + self.clients_needed(now)).min(autoscaler.max);
        if wanted <= group {
            return false;
        }
        if let Some(group_max) = autoscaler.group_max_size.filter(|group_max| wanted > *group_max) {
            self.actions.push(Action::Refused { at: now, from: group, to: wanted, group_max });
            return false;
        }
        let size = self.fleet.template.size;
        for _ in group..wanted {
            self.slots.push(Slot {
                size,
                joins: now + BOOT,
                added: Some(now + BOOT),
                cpus_used: 0,
                memory_used_mib: 0,
            });
        }
        self.last_scale_out = Some(now);
        self.actions.push(Action::ScaledOut { at: now, from: group, to: wanted });
        true
    }

    /// How many new clients the waiting containers need: those a client of the group's size can
    /// hold, packed in order onto new ones.
    fn clients_needed(&self, now: Instant) -> u32 {
        let size = self.fleet.template.size;
        let empty = Slot { size, joins: now, added: None, cpus_used: 0, memory_used_mib: 0 };
        let mut rooms: Vec<Slot> = Vec::new();
        let mut needed = 0;
        for &demand in &self.waiting {
            let request = self.fleet.demands[demand].size;
            if !empty.holds(request) {
                continue;
            }
            let room = match rooms.iter_mut().find(|room| room.holds(request)) {
                Some(room) => room,
                None => {
                    needed += 1;
                    rooms.push(empty.clone());
                    rooms.last_mut().expect("just pushed")
                }
            };
            room.cpus_used += request.cpus;
            room.memory_used_mib += request.memory_mib;
        }
        needed
    }
}

/// The fleet of one simulation, shared by the execution plane (which adds and cancels
/// containers) and the Nomad servers' CLI and HTTP API (which show it).
#[derive(Debug, Clone)]
pub struct SharedFleet(Arc<Mutex<Fleet>>);

impl SharedFleet {
    pub fn new(fleet: Fleet) -> Self {
        Self(Arc::new(Mutex::new(fleet)))
    }

    /// The fleet, locked; every change leaves it consistent, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Fleet> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    const MEDIUM: ClassSize = ClassSize { cpus: 2, memory_mib: 4_096 };
    const LARGE: ClassSize = ClassSize { cpus: 4, memory_mib: 8_192 };
    const XLARGE: ClassSize = ClassSize { cpus: 8, memory_mib: 16_384 };

    fn millis(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// The fleet of `scenario`, started at `origin`, its autoscaler off unless `autoscaling`.
    fn fleet(scenario: Scenario, origin: Instant, autoscaling: bool) -> Fleet {
        let mut installation = Installation::new(scenario, "2025-03-01T12:00:00Z".parse().unwrap());
        installation.autoscaler.enabled = autoscaling;
        Fleet::new(&installation, origin)
    }

    fn demand(number: usize, size: ClassSize, queued: Instant, hold: Duration) -> Demand {
        Demand { job_id: format!("job-{number:03}"), size, queued, hold, canceled: None }
    }

    /// Adds `count` containers of `size` that reach Nomad at `queued`; returns their indexes.
    fn add(fleet: &mut Fleet, count: usize, size: ClassSize, queued: Instant, hold: Duration) -> Vec<usize> {
        (0..count).map(|_| fleet.add(demand(fleet.demands.len(), size, queued, hold))).collect()
    }

    fn starts(fleet: &mut Fleet, demands: &[usize]) -> Vec<Option<Instant>> {
        demands.iter().map(|&demand| fleet.start_of(demand)).collect()
    }

    fn queued_and_running(state: &NomadState) -> (usize, usize) {
        let count = |status| state.jobs.iter().filter(|job| job.allocation == status).count();
        (count(AllocationStatus::Queued), count(AllocationStatus::Running))
    }

    #[test]
    fn containers_wait_in_order_and_one_that_fits_nowhere_yet_holds_back_none() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::Healthy, origin, false);
        // Two t3a.2xlarge clients take four medium containers each (8 vCPU each): the first
        // client containers 0 to 3 (ending 1.0 s to 1.3 s), the second 4 to 7 (1.4 s to 1.7 s).
        let first: Vec<usize> =
            (0..8).map(|n| fleet.add(demand(n, MEDIUM, origin, millis(1_000 + 100 * n as u64)))).collect();
        let large = fleet.add(demand(8, LARGE, origin + millis(50), millis(500)));
        let mediums: Vec<usize> =
            (1..=4).map(|n| fleet.add(demand(8 + n, MEDIUM, origin + millis(100 * n as u64), millis(500)))).collect();
        assert!(starts(&mut fleet, &first).iter().all(|start| *start == Some(origin)), "eight fit at once");
        // One medium's room frees at 1.0 s, 1.1 s, 1.2 s and 1.3 s: the large container, first in
        // line, fits none of them, and the medium ones behind it take them in their order.
        let expected: Vec<Option<Instant>> =
            [1_000, 1_100, 1_200, 1_300].into_iter().map(|ms| Some(origin + millis(ms))).collect();
        assert_eq!(starts(&mut fleet, &mediums), expected);
        // Containers 4 and 5 leave the second client four vCPUs at 1.5 s.
        assert_eq!(fleet.start_of(large), Some(origin + millis(1_500)));
    }

    #[test]
    fn a_class_no_client_can_hold_waits_until_cancelled_and_gets_no_client() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::ClientsTooSmall, origin, true);
        let xlarge = add(&mut fleet, 3, XLARGE, origin + millis(200), millis(1_000));
        let medium = add(&mut fleet, 4, MEDIUM, origin + millis(300), millis(1_000));
        assert_eq!(starts(&mut fleet, &xlarge), [None, None, None]);
        // A t3a.xlarge (4 vCPU, 12 GiB for jobs) takes two medium containers.
        assert_eq!(starts(&mut fleet, &medium), [Some(origin + millis(300)); 4]);
        let later = fleet.nomad_at(origin + Duration::from_secs(600));
        assert_eq!(later.clients.len(), 2, "a client of the same size would not help");
        assert_eq!(queued_and_running(&later), (3, 0));
        assert!(fleet.autoscaler_log(origin + Duration::from_secs(600)).is_empty());
        fleet.cancel(xlarge[0], origin + Duration::from_secs(5));
        let stopped = fleet.nomad_at(origin + Duration::from_secs(6));
        assert_eq!(stopped.jobs[0].allocation, AllocationStatus::NeverPlaced);
        assert!(stopped.jobs[0].stopped);
        assert_eq!(stopped.jobs[0].status(), "dead");
        assert_eq!(queued_and_running(&stopped), (2, 0));
    }

    #[test]
    fn the_autoscaler_adds_what_the_waiting_containers_need_after_an_evaluation_and_a_boot() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::CapacityHealthy, origin, true);
        let containers = add(&mut fleet, 50, MEDIUM, origin + millis(200), Duration::from_secs(2));
        let started = starts(&mut fleet, &containers);
        assert_eq!(started.iter().filter(|start| **start == Some(origin + millis(200))).count(), 8);
        // 42 wait: the evaluation at 1 s asks for 11 clients more (four each), which join at 2 s.
        let at_two = Some(origin + EVALUATION + BOOT);
        assert_eq!(started.iter().filter(|start| **start == at_two).count(), 42);
        let booting = fleet.nomad_at(origin + millis(1_999));
        assert_eq!((booting.clients.len(), queued_and_running(&booting)), (2, (42, 8)));
        let joined = fleet.nomad_at(origin + millis(2_000));
        assert_eq!((joined.clients.len(), queued_and_running(&joined)), (13, (0, 50)));
        let added = &joined.clients[2];
        assert_eq!((added.name.len(), added.size), (19, ClientSize::T3A_2XLARGE));
        assert!(added.name.starts_with("i-0") && added.takes_docker_jobs(), "{added:?}");
        assert_eq!(added.registered_at, "2025-03-01T12:00:02Z".parse::<Timestamp>().unwrap());
        let names: std::collections::BTreeSet<&str> = joined.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), 13, "each client its own name");
        let log = fleet.autoscaler_log(origin + Duration::from_secs(60));
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].0, "2025-03-01T12:00:01Z".parse::<Timestamp>().unwrap());
        assert!(log[0].1.starts_with("level=info msg=\"scaling target\" target=aws-asg from=2 to=13"), "{log:?}");
    }

    #[test]
    fn the_autoscaler_waits_out_its_cooldown_and_stops_at_its_max() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::CapacityHealthy, origin, true);
        // Ten medium containers: two wait, and the evaluation at 1 s adds one client (joins at 2 s).
        add(&mut fleet, 10, MEDIUM, origin + millis(200), Duration::from_secs(30));
        // Twenty more at 1.5 s: the evaluation at 2 s is within the cooldown, that at 3 s adds five.
        let second = add(&mut fleet, 20, MEDIUM, origin + millis(1_500), Duration::from_secs(30));
        let log = fleet.autoscaler_log(origin + Duration::from_secs(60));
        let lines: Vec<&str> = log.iter().map(|(_, line)| line.as_str()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("from=2 to=3") && lines[1].contains("from=3 to=8"), "{lines:?}");
        assert_eq!(log[1].0, "2025-03-01T12:00:03Z".parse::<Timestamp>().unwrap(), "not within the cooldown");
        // Two of the twenty take the rest of the first new client at 2 s, eighteen the five at 4 s.
        let started = starts(&mut fleet, &second);
        assert_eq!(started.iter().filter(|s| **s == Some(origin + millis(2_000))).count(), 2);
        assert_eq!(started.iter().filter(|s| **s == Some(origin + millis(4_000))).count(), 18);

        let mut capped = self::fleet(Scenario::Healthy, origin, true);
        let waiting = add(&mut capped, 50, MEDIUM, origin + millis(200), Duration::from_secs(30));
        let capped_log = capped.autoscaler_log(origin + Duration::from_secs(60));
        assert_eq!(capped_log.len(), 1, "the release's max of 5 is reached at once: {capped_log:?}");
        assert!(capped_log[0].1.contains("from=2 to=5"), "{capped_log:?}");
        let state = capped.nomad_at(origin + Duration::from_secs(20));
        assert_eq!((state.clients.len(), queued_and_running(&state)), (5, (30, 20)));
        // Waves end at 30.2 s (the first eight) and 32 s (the twelve on the clients added at 2 s);
        // the last two start as the second wave of those ends.
        assert_eq!(capped.start_of(waiting[47]), Some(origin + millis(60_200)));
        assert_eq!(capped.start_of(waiting[49]), Some(origin + millis(62_000)));
    }

    #[test]
    fn a_cloud_group_below_the_max_refuses_each_scale_out_while_containers_wait() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::AutoscalerStuck, origin, true);
        let containers = add(&mut fleet, 24, MEDIUM, origin + millis(200), millis(1_500));
        // Three waves of eight on the two clients: from 0.2 s, 1.7 s and 3.2 s.
        assert_eq!(fleet.start_of(containers[23]), Some(origin + millis(3_200)));
        let log = fleet.autoscaler_log(origin + Duration::from_secs(60));
        let times: Vec<Timestamp> = log.iter().map(|(at, _)| *at).collect();
        let second = |s: &str| format!("2025-03-01T12:00:0{s}Z").parse::<Timestamp>().unwrap();
        assert_eq!(times, [second("1"), second("2"), second("3")], "each evaluation while some wait");
        // Sixteen wait at 1 s (four clients more, up to the max of 5), eight at 2 s and 3 s.
        let wanted: Vec<u32> = vec![5, 4, 4];
        for ((_, line), wanted) in log.iter().zip(wanted) {
            assert!(line.starts_with("level=error msg=\"failed to scale target\""), "{line}");
            assert!(line.contains(&format!("from=2 to={wanted}")), "{line}");
            let refused = format!("ValidationError: New SetDesiredCapacity value {wanted} is above max value 2");
            assert!(line.contains(&refused), "{line}");
            for authorisation in ["AccessDenied", "is not authorized to perform", "UnauthorizedOperation"] {
                assert!(!line.contains(authorisation), "{line}");
            }
        }
        assert_eq!(fleet.nomad_at(origin + Duration::from_secs(60)).clients.len(), 2);
    }

    #[test]
    fn at_its_max_the_autoscaler_adds_nothing_and_says_nothing() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::AutoscalerAtMax, origin, true);
        let containers = add(&mut fleet, 50, MEDIUM, origin + millis(200), Duration::from_secs(1));
        assert_eq!(fleet.start_of(containers[49]), Some(origin + millis(6_200)), "seven waves of eight");
        assert!(fleet.autoscaler_log(origin + Duration::from_secs(60)).is_empty());
        assert_eq!(fleet.nomad_at(origin + Duration::from_secs(3)).clients.len(), 2);
    }

    #[test]
    fn cancelling_empties_the_queue_and_frees_clients_for_later_containers() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::Healthy, origin, false);
        let first = add(&mut fleet, 12, MEDIUM, origin, Duration::from_secs(10));
        let later = add(&mut fleet, 8, MEDIUM, origin + millis(500), Duration::from_secs(1));
        assert_eq!(fleet.start_of(later[0]), Some(origin + Duration::from_secs(10)));
        for &demand in &first {
            fleet.cancel(demand, origin + millis(3_000));
        }
        // The eight running stop at 3 s; the four waiting never start; the later ones start then.
        assert_eq!(starts(&mut fleet, &first[8..]), [None; 4]);
        assert_eq!(starts(&mut fleet, &later), [Some(origin + millis(3_000)); 8]);
        let state = fleet.nomad_at(origin + millis(3_500));
        let first_jobs = &state.jobs[..12];
        assert!(first_jobs[..8].iter().all(|job| job.allocation == AllocationStatus::Complete && job.stopped));
        assert!(first_jobs[8..].iter().all(|job| job.allocation == AllocationStatus::NeverPlaced && job.stopped));
        assert_eq!(queued_and_running(&state), (0, 8));
        let before = fleet.nomad_at(origin + millis(2_999));
        assert_eq!(queued_and_running(&before), (12, 8), "what was, stays");
    }

    #[test]
    fn a_hold_beyond_what_an_instant_counts_ends_a_century_on() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::Healthy, origin, false);
        let forever = add(&mut fleet, 9, MEDIUM, origin, Duration::MAX);
        assert_eq!(fleet.start_of(forever[8]), Some(origin + CENTURY), "the ninth waits for one of the eight");
        assert_eq!(queued_and_running(&fleet.nomad_at(origin + Duration::from_secs(3_600))), (1, 8));
    }

    #[test]
    fn jobs_reach_nomad_when_their_containers_queue() {
        let origin = Instant::now();
        let mut fleet = fleet(Scenario::Healthy, origin, false);
        add(&mut fleet, 2, MEDIUM, origin + millis(400), millis(100));
        assert!(fleet.nomad_at(origin + millis(399)).jobs.is_empty());
        let state = fleet.nomad_at(origin + millis(450));
        assert_eq!(queued_and_running(&state), (0, 2));
        assert_eq!(state.jobs[0].submitted_at, "2025-03-01T12:00:00.4Z".parse::<Timestamp>().unwrap());
        let done = fleet.nomad_at(origin + millis(500));
        assert!(done.jobs.iter().all(|job| job.allocation == AllocationStatus::Complete && !job.stopped));
        assert!(done.jobs.iter().all(|job| job.status() == "dead" && job.modify_index > job.create_index));
    }
}
