//! The parallelism controller: how many chunk PUTs the process keeps in flight when the
//! parallelism is automatic.
//!
//! It is pure: it sees one [`Epoch`] at a time (what the link did while a level was held)
//! and answers with the level for the next epoch. The sampler in `link` measures the
//! epochs; tests feed synthetic ones.
//!
//! # The model
//!
//! On a real path each TCP connection is capped (its window over the round trip), and all
//! connections share the link. Goodput is then about `min(level × per-connection, link)`:
//! it grows in proportion with the level until the link is full, then stays flat. The
//! controller looks for that knee:
//!
//! 1. **Growing.** The level doubles while goodput grows about in proportion (the
//!    *efficiency*, relative growth of goodput over relative growth of the level, is at
//!    least [`PROPORTIONAL`]), and grows by a quarter while it still grows somewhat.
//! 2. When goodput stops growing, the knee is estimated from the last two epochs (the
//!    per-connection rate from the one below the knee, the link from the one above) and the
//!    level is set a margin above it ([`MARGIN`]): levels above the knee cost nothing on
//!    the link and cover the pauses between one chunk's end and the next one's start.
//! 3. When goodput did not grow at all from the very first level, the knee lies at or
//!    below it. If that level's connections each moved little (a slow uplink one connection
//!    may fill), the level shrinks by a quarter while goodput holds, so a slow link is not
//!    crowded with connections; the first level that loses goodput gives the per-connection
//!    rate, and with it the knee. Otherwise the level settles a margin above the first one.
//! 4. **Holding.** The level stays. Every [`REPROBE_EPOCHS`] epochs it tries a quarter more,
//!    in case the link got faster; it keeps the step only when goodput grew with it.
//!
//! Errors and stalls shrink the level at once (by a quarter, a stall by half), and so does
//! latency that doubled without goodput to show for it: a crowded link answers slowly
//! before it answers with errors. Epochs in which the uploads could not use the level
//! (fewer chunks wanted than slots) carry no information and change nothing.

/// The fewest chunks in flight.
pub(crate) const MIN_LEVEL: usize = 1;
/// The most chunks in flight.
pub(crate) const MAX_LEVEL: usize = 64;
/// Where a host never seen before starts: enough to fill a link that caps connections at a
/// few MB/s, few enough for a slow uplink.
pub(crate) const START_LEVEL: usize = 8;

/// Efficiency at or above which growth counts as proportional (the link is not full yet).
const PROPORTIONAL: f64 = 0.6;
/// Efficiency below which the level bought nothing.
const FLAT: f64 = 0.25;
/// Bytes per second per connection below which a link whose first level gained nothing is
/// searched downwards: many connections that each move little are what times out on a
/// slow uplink. Faster connections settle a margin above the first level instead, which
/// costs nothing on the link.
const SLOW_CONNECTION: f64 = 1e6;
/// Goodput at or above this fraction of the best seen counts as holding up.
const HOLDS: f64 = 0.93;
/// The level settles this far above the estimated knee.
const MARGIN: f64 = 1.2;
/// Epochs between two probes upward while holding.
const REPROBE_EPOCHS: u32 = 15;
/// Latency this many times the holding level's, with no more goodput, shrinks the level.
const LATENCY_RISE: f64 = 2.0;

/// What the link did while one level was held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Epoch {
    /// Bytes per second the storage accepted, failed attempts not counted.
    pub(crate) goodput: f64,
    /// Whether the uploads wanted at least as many slots as the level (otherwise the level
    /// was not what limited them, and the epoch says nothing about it).
    pub(crate) saturated: bool,
    /// Chunk attempts that failed (not counting expired URLs).
    pub(crate) errors: u32,
    /// Chunk attempts abandoned because nothing moved.
    pub(crate) stalls: u32,
    /// The mean time of the chunk PUTs acknowledged in the epoch, in seconds.
    pub(crate) latency: Option<f64>,
}

/// Where the controller is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Raising the level; `below` is the last level held and its goodput, `steps` how many
    /// raises this phase has made.
    Growing {
        below: Option<(usize, f64)>,
        steps: u32,
    },
    /// Lowering the level while goodput holds at `best`; `above` is the last level that
    /// held, `top` the highest one tried.
    Shrinking { best: f64, above: usize, top: usize },
    /// Settled; `goodput` and `latency` are what the level gave when it settled.
    Holding {
        goodput: f64,
        latency: Option<f64>,
        epochs: u32,
    },
    /// Trying one step above `from` while holding.
    Probing {
        from: usize,
        goodput: f64,
        latency: Option<f64>,
    },
}

/// The automatic parallelism of one process.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    level: usize,
    phase: Phase,
    /// The most goodput per connection seen in a saturated epoch: the best estimate of what
    /// one connection can carry, since levels above the knee only divide the link.
    per_connection: f64,
}

impl Controller {
    /// A controller starting at `level` (the one learned for the host, or [`START_LEVEL`]).
    pub(crate) fn new(level: usize) -> Self {
        Self {
            level: level.clamp(MIN_LEVEL, MAX_LEVEL),
            phase: Phase::Growing {
                below: None,
                steps: 0,
            },
            per_connection: 0.0,
        }
    }

    /// The level to hold now.
    pub(crate) fn level(&self) -> usize {
        self.level
    }

    /// Whether the controller has found its level (not growing, shrinking or probing).
    pub(crate) fn is_settled(&self) -> bool {
        matches!(self.phase, Phase::Holding { .. })
    }

    /// Takes what the last epoch measured and returns the level for the next one.
    pub(crate) fn observe(&mut self, epoch: Epoch) -> usize {
        if epoch.stalls > 0 || epoch.errors > 0 {
            let kept = if epoch.stalls > 0 { 0.5 } else { 0.75 };
            self.level = scale(self.level, kept).min(self.level.saturating_sub(1).max(1));
            self.hold(epoch.goodput, epoch.latency);
            return self.level;
        }
        if !epoch.saturated || epoch.goodput <= 0.0 {
            return self.level;
        }
        let g = epoch.goodput;
        self.per_connection = self.per_connection.max(g / self.level as f64);
        match self.phase {
            Phase::Growing { below: None, .. } => self.grow(g, 2.0, 1),
            Phase::Growing {
                below: Some((l1, g1)),
                steps,
            } => {
                let eff = efficiency(l1, g1, self.level, g);
                if eff >= PROPORTIONAL {
                    self.grow(g, 2.0, steps + 1);
                } else if eff >= FLAT {
                    self.grow(g, 1.25, steps + 1);
                } else if steps == 1 && g1 / (l1 as f64) < SLOW_CONNECTION {
                    // Nothing gained from the first level, whose connections were slow: the
                    // knee is at or below it, and a slow link is not to be crowded.
                    self.phase = Phase::Shrinking {
                        best: g.max(g1),
                        above: l1,
                        top: self.level,
                    };
                    self.level = shrink_step(l1);
                    if self.level == l1 {
                        self.hold(g1, epoch.latency);
                    }
                } else {
                    // The knee: the link from above it, over what one connection carries.
                    let level = knee_level(g.max(g1), self.per_connection).min(self.level);
                    self.level = level;
                    self.hold(g, epoch.latency);
                }
            }
            Phase::Shrinking { best, above, top } => {
                if g >= best * HOLDS && self.level > MIN_LEVEL {
                    self.phase = Phase::Shrinking {
                        best: best.max(g),
                        above: self.level,
                        top,
                    };
                    self.level = shrink_step(self.level);
                } else if g >= best * HOLDS {
                    // One connection fills the link; a second covers the gaps between chunks.
                    self.level = (MIN_LEVEL + 1).min(above);
                    self.hold(g, epoch.latency);
                } else {
                    // Below the knee now: the per-connection rate is measured.
                    let low = self.level;
                    self.level =
                        knee_level(best, self.per_connection).clamp(low + 1, top.max(above));
                    self.hold(best, epoch.latency);
                }
            }
            Phase::Holding {
                goodput,
                latency,
                epochs,
            } => {
                let slow = matches!((latency, epoch.latency), (Some(then), Some(now))
                    if now > then * LATENCY_RISE && g < goodput * (1.0 + FLAT));
                if slow && self.level > MIN_LEVEL {
                    self.level = scale(self.level, 0.75).min(self.level - 1).max(MIN_LEVEL);
                    self.hold(g, epoch.latency);
                } else if epochs + 1 >= REPROBE_EPOCHS && self.level < MAX_LEVEL {
                    let from = self.level;
                    self.level = step_up(from);
                    self.phase = Phase::Probing {
                        from,
                        goodput: goodput.max(g),
                        latency,
                    };
                } else {
                    self.phase = Phase::Holding {
                        goodput: if epochs == 0 { g } else { goodput.max(g) },
                        latency: latency.or(epoch.latency),
                        epochs: epochs + 1,
                    };
                }
            }
            Phase::Probing {
                from,
                goodput,
                latency,
            } => {
                if efficiency(from, goodput, self.level, g) >= PROPORTIONAL {
                    // The link got wider: grow again from here.
                    self.grow(g, 1.25, 2);
                } else {
                    self.level = from;
                    self.phase = Phase::Holding {
                        goodput,
                        latency,
                        epochs: 0,
                    };
                }
            }
        }
        self.level
    }

    /// Raises the level by `factor` (2, or a quarter), remembering the current one;
    /// `steps` counts the raises of this growing phase.
    fn grow(&mut self, goodput: f64, factor: f64, steps: u32) {
        let from = self.level;
        if from >= MAX_LEVEL {
            self.hold(goodput, None);
            return;
        }
        self.level = if factor >= 2.0 {
            (from * 2).min(MAX_LEVEL)
        } else {
            step_up(from)
        };
        self.phase = Phase::Growing {
            below: Some((from, goodput)),
            steps,
        };
    }

    fn hold(&mut self, goodput: f64, latency: Option<f64>) {
        self.phase = Phase::Holding {
            goodput,
            latency,
            epochs: 0,
        };
    }
}

/// The level a margin above the knee of a link of `capacity` whose connections each carry
/// `per_connection` (bytes per second).
fn knee_level(capacity: f64, per_connection: f64) -> usize {
    if per_connection <= 0.0 {
        return MAX_LEVEL;
    }
    let knee = capacity / per_connection;
    ((knee * MARGIN).ceil() as usize).clamp(MIN_LEVEL, MAX_LEVEL)
}

/// Relative growth of goodput over relative growth of the level, from `(l1, g1)` to
/// `(l2, g2)`: 1 when goodput grew in proportion, 0 when it stayed flat.
fn efficiency(l1: usize, g1: f64, l2: usize, g2: f64) -> f64 {
    if l2 <= l1 || g1 <= 0.0 {
        return 0.0;
    }
    let level_growth = l2 as f64 / l1 as f64 - 1.0;
    (g2 / g1 - 1.0) / level_growth
}

/// A quarter less, at least one less, never below one: a probe below a knee costs a
/// quarter of the link for one epoch, not half.
fn shrink_step(level: usize) -> usize {
    (level - (level / 4).max(1)).max(MIN_LEVEL)
}

/// A quarter more, at least one more.
fn step_up(level: usize) -> usize {
    (level + (level / 4).max(1)).min(MAX_LEVEL)
}

fn scale(level: usize, factor: f64) -> usize {
    ((level as f64 * factor).floor() as usize).max(MIN_LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link of `capacity` bytes/s shared by connections each capped at `per_connection`.
    fn link(level: usize, per_connection: f64, capacity: f64) -> f64 {
        (level as f64 * per_connection).min(capacity)
    }

    fn epoch(goodput: f64) -> Epoch {
        Epoch {
            goodput,
            saturated: true,
            errors: 0,
            stalls: 0,
            latency: None,
        }
    }

    /// Runs `n` epochs on the synthetic link and returns the levels chosen.
    fn run(c: &mut Controller, n: usize, per_connection: f64, capacity: f64) -> Vec<usize> {
        (0..n)
            .map(|_| {
                let g = link(c.level(), per_connection, capacity);
                c.observe(epoch(g))
            })
            .collect()
    }

    #[test]
    fn fills_a_long_haul_link_a_margin_above_the_knee() {
        // 1.5 MB/s per connection, 12.5 MB/s link: the knee is at 8.3 connections.
        let mut c = Controller::new(START_LEVEL);
        let levels = run(&mut c, 6, 1.5e6, 12.5e6);
        assert!(c.is_settled(), "{levels:?}");
        let settled = c.level();
        assert!((9..=12).contains(&settled), "{levels:?}");
        assert!(link(settled, 1.5e6, 12.5e6) >= 0.999 * 12.5e6);
        // It settles after one step up, without probing below the knee.
        assert_eq!(
            levels,
            [16, settled, settled, settled, settled, settled],
            "{levels:?}"
        );
    }

    #[test]
    fn a_slow_first_epoch_does_not_push_the_level_far_past_the_knee() {
        // Connections still opening make the first epoch read low (80 %): the step up looks
        // worth more than it is, but the knee comes from the best per-connection rate.
        let mut c = Controller::new(START_LEVEL);
        c.observe(epoch(0.8 * link(START_LEVEL, 1.5e6, 12.5e6)));
        let levels = run(&mut c, 5, 1.5e6, 12.5e6);
        assert!(c.is_settled(), "{levels:?}");
        assert!((9..=13).contains(&c.level()), "{levels:?}");
    }

    #[test]
    fn an_office_link_settles_above_the_knee_without_a_probe_below() {
        // 3 MB/s per connection, 25 MB/s link: the first level is just below the knee.
        let mut c = Controller::new(START_LEVEL);
        let levels = run(&mut c, 4, 3e6, 25e6);
        assert!(levels.iter().all(|&l| l >= START_LEVEL), "{levels:?}");
        assert!(link(c.level(), 3e6, 25e6) >= 0.999 * 25e6, "{levels:?}");
    }

    #[test]
    fn grows_fast_for_a_wide_link_and_stops_at_the_ceiling() {
        // 3 MB/s per connection, a link of 200 MB/s: needs 67, gets the ceiling.
        let mut c = Controller::new(START_LEVEL);
        let levels = run(&mut c, 8, 3e6, 200e6);
        assert_eq!(levels[..3], [16, 32, 64], "{levels:?}");
        assert_eq!(c.level(), MAX_LEVEL);
    }

    #[test]
    fn a_slow_uplink_that_one_connection_fills_gets_few_connections() {
        // No per-connection cap worth the name: 2.5 MB/s for one connection or sixteen.
        let mut c = Controller::new(START_LEVEL);
        let levels = run(&mut c, 8, 10e6, 2.5e6);
        assert!(c.is_settled(), "{levels:?}");
        assert!(c.level() <= 2, "{levels:?}");
    }

    #[test]
    fn does_not_oscillate_once_settled() {
        let mut c = Controller::new(START_LEVEL);
        run(&mut c, 5, 3e6, 25e6);
        let settled = c.level();
        let levels = run(&mut c, 60, 3e6, 25e6);
        let changes = levels.windows(2).filter(|w| w[0] != w[1]).count();
        // A probe up and back every REPROBE_EPOCHS epochs, nothing else.
        assert!(
            changes <= 2 * (60 / REPROBE_EPOCHS as usize) + 1,
            "{levels:?}"
        );
        assert!(
            levels
                .iter()
                .all(|&l| l == settled || l == step_up(settled)),
            "{levels:?}"
        );
    }

    #[test]
    fn a_faster_link_is_found_by_the_probes() {
        let mut c = Controller::new(START_LEVEL);
        run(&mut c, 5, 1.5e6, 12.5e6);
        let before = c.level();
        // The link widens to 50 MB/s.
        run(&mut c, 40, 1.5e6, 50e6);
        assert!(c.level() >= 34, "from {before} to {}", c.level());
    }

    #[test]
    fn errors_and_stalls_shrink_the_level() {
        let mut c = Controller::new(16);
        let mut e = epoch(10e6);
        e.errors = 2;
        assert_eq!(c.observe(e), 12);
        e.errors = 0;
        e.stalls = 1;
        assert_eq!(c.observe(e), 6);
        let mut one = Controller::new(1);
        assert_eq!(one.observe(e), 1, "never below one");
    }

    #[test]
    fn rising_latency_without_goodput_shrinks_the_level() {
        let mut c = Controller::new(START_LEVEL);
        run(&mut c, 5, 1.5e6, 12.5e6);
        let settled = c.level();
        let mut e = epoch(12.5e6);
        e.latency = Some(3.0);
        c.observe(e);
        e.latency = Some(7.0);
        assert!(c.observe(e) < settled);
    }

    #[test]
    fn epochs_that_could_not_use_the_level_change_nothing() {
        let mut c = Controller::new(START_LEVEL);
        let mut e = epoch(1e6);
        e.saturated = false;
        for _ in 0..10 {
            assert_eq!(c.observe(e), START_LEVEL);
        }
    }

    #[test]
    fn a_learned_level_is_confirmed_not_forgotten() {
        // Starting from the level learned last time on the same link, it stays near it.
        let mut c = Controller::new(10);
        run(&mut c, 4, 1.5e6, 12.5e6);
        assert!(c.is_settled());
        assert!((9..=12).contains(&c.level()), "{}", c.level());
    }

    #[test]
    fn noise_does_not_make_it_run_away() {
        // ±5 % noise on a flat link: it must settle, not climb to the ceiling.
        let mut c = Controller::new(START_LEVEL);
        let noise = [1.05, 0.95, 1.03, 0.97, 1.0, 1.04, 0.96, 1.02, 0.98, 1.01];
        let mut levels = Vec::new();
        for round in 0..40 {
            let g = link(c.level(), 1.5e6, 12.5e6) * noise[round % noise.len()];
            levels.push(c.observe(epoch(g)));
        }
        assert!(levels.iter().all(|&l| l <= 16), "{levels:?}");
        assert!(
            levels[10..].iter().all(|&l| (9..=16).contains(&l)),
            "{levels:?}"
        );
    }
}
