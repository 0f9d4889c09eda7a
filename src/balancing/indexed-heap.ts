/** An item that knows its slot, so the heap can re-sift or remove it in O(log n). */
export interface HeapItem {
  /** Slot in the heap holding it; -1 when in none. Owned by the heap. */
  heapIndex: number;
}

/**
 * Binary min-heap whose items carry their own index, so a changed key is
 * re-sifted in place (`update`) instead of searched for. `less` must be a
 * strict total order (break ties on a unique field) for picks to be
 * deterministic.
 */
export class IndexedHeap<T extends HeapItem> {
  readonly #less: (a: T, b: T) => boolean;
  #items: T[] = [];

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  has(item: T): boolean {
    return this.#items[item.heapIndex] === item;
  }

  /**
   * Replace the contents with `items` in O(n). Items dropped keep a stale
   * index, which `has`, `remove` and `update` recognise by identity.
   */
  reset(items: readonly T[]): void {
    this.#items = [...items];
    this.#items.forEach((it, i) => (it.heapIndex = i));
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (this.#items[i] !== item) return;
    const last = this.#items.pop() as T;
    item.heapIndex = -1;
    if (last === item) return;
    this.#items[i] = last;
    last.heapIndex = i;
    this.#restore(i);
  }

  /** The item's key changed: move it to where it now belongs. */
  update(item: T): void {
    if (this.#items[item.heapIndex] === item) this.#restore(item.heapIndex);
  }

  #restore(i: number): void {
    if (i > 0 && this.#less(this.#items[i] as T, this.#items[(i - 1) >> 1] as T)) this.#up(i);
    else this.#down(i);
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i] as T;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as T;
      if (!this.#less(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i] as T;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#less(items[c + 1] as T, items[c] as T)) c++;
      const child = items[c] as T;
      if (!this.#less(child, item)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
