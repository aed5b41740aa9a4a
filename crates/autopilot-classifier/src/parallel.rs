//! Files processed on several threads, results delivered in input order, in bounded memory.
//!
//! Workers take files in order; each streams its items in batches through a bounded channel of
//! its own, which the caller's thread drains file after file. A worker ahead of the file being
//! drained blocks once its channel is full, so at most `threads` files are in flight and each
//! holds at most a few batches.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

const BATCH: usize = 32;
const BATCHES_IN_FLIGHT: usize = 4;

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
    let next = AtomicUsize::new(0);
    let (announce, announced) = mpsc::channel::<(usize, mpsc::Receiver<Message<T, E>>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let announce = announce.clone();
            let next = &next;
            let work = &work;
            let init = &init;
            scope.spawn(move || {
                let mut state = init();
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count {
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
        let mut waiting: BTreeMap<usize, mpsc::Receiver<Message<T, E>>> = BTreeMap::new();
        for index in 0..count {
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
}
