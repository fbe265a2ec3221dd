/** Called with an experiment's latest stored event sequence after a commit that appended events to it. */
export type EventListener = (lastSequence: number) => void;

/**
 * In-process notifications of committed events, per experiment. The store publishes after each committed
 * transaction that appended events; watchers then read the new events from the store in sequence order, so a
 * notification carries no event (it only says "look again") and a watcher can neither miss nor repeat one.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly closeListeners = new Set<() => void>();

  /** Calls `listener` after every commit that appends events to `experimentId`; returns the unsubscribe. */
  subscribe(experimentId: string, listener: EventListener): () => void {
    let set = this.listeners.get(experimentId);
    if (!set) {
      set = new Set();
      this.listeners.set(experimentId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(experimentId) === set) this.listeners.delete(experimentId);
    };
  }

  /** Calls `listener` once when the bus is closed (the coordinator shuts down); returns the unsubscribe. */
  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  publish(experimentId: string, lastSequence: number): void {
    for (const listener of [...(this.listeners.get(experimentId) ?? [])]) listener(lastSequence);
  }

  /** Number of subscriptions to `experimentId` (tests, metrics). */
  listenerCount(experimentId: string): number {
    return this.listeners.get(experimentId)?.size ?? 0;
  }

  /** Tells every close listener (watch streams end), then forgets them. */
  close(): void {
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener();
  }
}
