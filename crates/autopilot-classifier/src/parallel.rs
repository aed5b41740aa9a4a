//! Files processed on several threads, results delivered in input order, in bounded memory.
//!
//! Workers take files in order; each streams its items in batches through a bounded channel of
//! its own, which the caller's thread drains file after file. Two bounds keep memory constant
//! whatever the input and however slowly the caller drains (a stalled reader of stdout): a
//! worker blocks once its file's channel is full, and it starts a file only inside a window of
//! [`FILES_PER_THREAD`] × `threads` files from the one being drained — a small file (a legacy
//! log of 30 sessions is one batch) never fills its channel, so without the window the workers
//! would read every file ahead of a stalled caller.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

const BATCH: usize = 32;
const BATCHES_IN_FLIGHT: usize = 4;
/// Files in flight per worker thread: the window of files the workers may read, counted from
/// the one being drained. More than one per thread, so a worker that finished a small file
/// goes on while a large one is drained.
pub(crate) const FILES_PER_THREAD: usize = 2;

/// The files workers may start: `draining..draining + width`.
struct Window {
    width: usize,
    state: Mutex<WindowState>,
    moved: Condvar,
}

struct WindowState {
    /// The file the caller drains (every file before it is delivered).
    draining: usize,
    /// The caller returned: no file is admitted any more.
    stopped: bool,
    /// Workers waiting for a file to enter the window.
    waiting: usize,
}

impl Window {
    fn new(width: usize) -> Self {
        Window {
            width: width.max(1),
            state: Mutex::new(WindowState {
                draining: 0,
                stopped: false,
                waiting: 0,
            }),
            moved: Condvar::new(),
        }
    }

    /// Waits until file `index` is inside the window; `false` once the run stopped.
    fn admit(&self, index: usize) -> bool {
        // A poisoned lock only means a worker panicked; the scope re-raises that panic.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.waiting += 1;
        let mut state = self
            .moved
            .wait_while(state, |s| !s.stopped && index >= s.draining + self.width)
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting -= 1;
        !state.stopped
    }

    /// Workers waiting in [`Window::admit`] (for tests).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting
    }

    /// The caller drains file `index` now.
    fn advance(&self, index: usize) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .draining = index;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopped = true;
        self.moved.notify_all();
    }
}

/// Stops the window when the caller returns, by any path (an error, a panic).
struct StopOnDrop<'a>(&'a Window);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What a worker sends for one file.
enum Message<T, E> {
    Items(Vec<T>),
    Failed(E),
}

/// Runs `work(index, emit)` for every index in `0..count` on up to `threads` threads and calls
/// `consume(index, item)` on the calling thread for every emitted item, in index order and, per
/// index, in emission order. The first error (in index order) stops the run and is returned;
/// `consume` errors stop it too.
pub fn for_each_ordered<T, E, W, C>(
    count: usize,
    threads: usize,
    work: W,
    consume: C,
) -> Result<(), E>
where
    T: Send,
    E: Send,
    W: Fn(usize, &mut dyn FnMut(T)) -> Result<(), E> + Sync,
    C: FnMut(usize, T) -> Result<(), E>,
{
    for_each_ordered_with(
        count,
        threads,
        || (),
        |(), index, emit| work(index, emit),
        consume,
    )
}

/// [`for_each_ordered`] with a state per worker thread, made by `init` (a cache, say).
pub fn for_each_ordered_with<S, T, E, I, W, C>(
    count: usize,
    threads: usize,
    init: I,
    work: W,
    mut consume: C,
) -> Result<(), E>
where
    T: Send,
    E: Send,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, usize, &mut dyn FnMut(T)) -> Result<(), E> + Sync,
    C: FnMut(usize, T) -> Result<(), E>,
{
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        let mut state = init();
        for index in 0..count {
            let mut failed = None;
            let mut emit = |item| {
                if failed.is_none()
                    && let Err(err) = consume(index, item)
                {
                    failed = Some(err);
                }
            };
            work(&mut state, index, &mut emit)?;
            if let Some(err) = failed {
                return Err(err);
            }
        }
        return Ok(());
    }
    let window = Window::new(FILES_PER_THREAD * threads);
    in_window(&window, count, threads, &init, &work, consume)
}

/// The threaded part of [`for_each_ordered_with`], inside `window`.
fn in_window<S, T, E, I, W, C>(
    window: &Window,
    count: usize,
    threads: usize,
    init: &I,
    work: &W,
    mut consume: C,
) -> Result<(), E>
where
    T: Send,
    E: Send,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, usize, &mut dyn FnMut(T)) -> Result<(), E> + Sync,
    C: FnMut(usize, T) -> Result<(), E>,
{
    let next = AtomicUsize::new(0);
    let (announce, announced) = mpsc::channel::<(usize, mpsc::Receiver<Message<T, E>>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let announce = announce.clone();
            let next = &next;
            scope.spawn(move || {
                let mut state = init();
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count || !window.admit(index) {
                        break;
                    }
                    let (send, receive) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
                    if announce.send((index, receive)).is_err() {
                        break;
                    }
                    let mut batch = Vec::with_capacity(BATCH);
                    let mut receiver_gone = false;
                    let mut emit = |item| {
                        batch.push(item);
                        if batch.len() == BATCH && !receiver_gone {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            receiver_gone = send.send(Message::Items(full)).is_err();
                        }
                    };
                    let result = work(&mut state, index, &mut emit);
                    let stop = match result {
                        Ok(()) => send.send(Message::Items(batch)).is_err(),
                        Err(err) => {
                            let _ = send.send(Message::Failed(err));
                            true
                        }
                    };
                    if stop || receiver_gone {
                        break;
                    }
                }
            });
        }
        drop(announce);
        let _stop = StopOnDrop(window);
        let mut waiting: BTreeMap<usize, mpsc::Receiver<Message<T, E>>> = BTreeMap::new();
        for index in 0..count {
            window.advance(index);
            let receiver = loop {
                if let Some(receiver) = waiting.remove(&index) {
                    break Some(receiver);
                }
                match announced.recv() {
                    Ok((i, receiver)) => {
                        waiting.insert(i, receiver);
                    }
                    Err(_) => break None,
                }
            };
            let Some(receiver) = receiver else { break };
            for message in receiver {
                match message {
                    Message::Items(items) => {
                        for item in items {
                            // Dropping the receivers (by returning) stops the workers.
                            consume(index, item)?;
                        }
                    }
                    Message::Failed(err) => return Err(err),
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_arrive_in_index_order_whatever_the_thread_count() {
        for threads in [1, 2, 4, 9] {
            let mut seen = Vec::new();
            for_each_ordered::<_, (), _, _>(
                7,
                threads,
                |index, emit| {
                    for i in 0..(index * 300) {
                        emit((index, i));
                    }
                    Ok(())
                },
                |index, item| {
                    assert_eq!(index, item.0);
                    seen.push(item);
                    Ok(())
                },
            )
            .unwrap();
            let want: Vec<_> = (0..7)
                .flat_map(|f| (0..f * 300).map(move |i| (f, i)))
                .collect();
            assert_eq!(seen, want, "threads {threads}");
        }
    }

    #[test]
    fn the_first_error_in_index_order_wins_and_stops_the_run() {
        let mut consumed = 0;
        let err = for_each_ordered(
            50,
            3,
            |index, emit| {
                emit(index);
                if index == 5 || index == 30 {
                    Err(index)
                } else {
                    Ok(())
                }
            },
            |_, _| {
                consumed += 1;
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(err, 5);
        assert!(consumed <= 5, "{consumed}");
    }

    /// Waits (without a clock) until `done` holds.
    fn until(done: impl Fn() -> bool) {
        while !done() {
            std::thread::yield_now();
        }
    }

    #[test]
    fn the_window_admits_files_from_the_drained_one_and_holds_the_others_until_it_moves() {
        let window = Window::new(3);
        assert!(window.admit(0) && window.admit(2));
        std::thread::scope(|scope| {
            let late = scope.spawn(|| window.admit(5));
            until(|| window.waiting() == 1);
            window.advance(2);
            // 5 is still outside 2..5.
            until(|| window.waiting() == 1);
            assert!(!late.is_finished());
            window.advance(3);
            assert!(late.join().unwrap());
            let stopped = scope.spawn(|| window.admit(100));
            until(|| window.waiting() == 1);
            window.stop();
            assert!(!stopped.join().unwrap(), "a stopped window admits nothing");
        });
        assert!(!window.admit(0));
    }

    /// A caller that stalls on the first file's first item (a reader of stdout that stopped
    /// reading): the workers stop at the window instead of reading every file ahead, and no
    /// file starts while `width` earlier files are undelivered.
    #[test]
    fn files_in_flight_never_exceed_the_window_even_when_the_caller_stalls() {
        const FILES: usize = 200;
        for (threads, width) in [(2, 4), (3, 3), (4, 1)] {
            let window = Window::new(width);
            let started = AtomicUsize::new(0);
            let delivered = AtomicUsize::new(0);
            let most_in_flight = AtomicUsize::new(0);
            let mut seen = 0;
            in_window(
                &window,
                FILES,
                threads,
                &|| (),
                &|(), index, emit| {
                    started.fetch_add(1, Ordering::SeqCst);
                    // Files `delivered..=index` are in flight now.
                    let in_flight = index + 1 - delivered.load(Ordering::SeqCst);
                    most_in_flight.fetch_max(in_flight, Ordering::SeqCst);
                    for i in 0..3 {
                        emit((index, i));
                    }
                    Ok::<_, ()>(())
                },
                |index, (file, i)| {
                    assert_eq!((index, i), (file, seen % 3));
                    if seen == 0 {
                        // Stalled until every worker waits at the window (or, without one,
                        // until the workers run past it).
                        until(|| {
                            window.waiting() == threads || started.load(Ordering::SeqCst) > width
                        });
                        assert_eq!(started.load(Ordering::SeqCst), width, "threads {threads}");
                    }
                    seen += 1;
                    if i == 2 {
                        delivered.store(index + 1, Ordering::SeqCst);
                    }
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, FILES * 3);
            let most = most_in_flight.load(Ordering::SeqCst);
            assert!(most <= width, "threads {threads}: {most} files in flight");
        }
    }
}
