/**
 * A list that renders only the rows in view (plus a few above and below) inside its own scroll
 * container, so thousands of items cost what a screenful does. Rows have one fixed height.
 */
import * as React from 'react';

/**
 * What a row element must carry: its position and, for assistive technology, where it sits in
 * the whole list.
 */
export interface IVirtualRowProps {
  style: React.CSSProperties;
  'aria-setsize': number;
  'aria-posinset': number;
}

export interface IVirtualListProps<T> {
  items: ReadonlyArray<T>;
  itemKey: (item: T) => string;
  /** Render one row: an `<li>` spreading `row` (its position and size). */
  renderRow: (item: T, index: number, row: IVirtualRowProps) => JSX.Element;
  /** Pixel height of every row. */
  rowHeight: number;
  /** Pixel height of the scroll container when the rows fill it. */
  height: number;
  /** Rows rendered beyond each edge of the view. */
  overscan?: number;
  /** Whether the server has rows after the last one loaded. */
  hasMore?: boolean;
  /** Whether the next rows are being fetched. */
  loading?: boolean;
  /** Asked once the rendered rows come within `threshold` rows of the end. */
  onLoadMore?: () => void;
  threshold?: number;
  ariaLabel: string;
  className?: string;
  testId?: string;
}

/**
 * The first and last (exclusive) index to render for a scroll position.
 */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan: number
): [number, number] {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + viewport) / rowHeight);
  return [Math.max(0, first - overscan), Math.min(count, last + overscan)];
}

export function VirtualList<T>(props: IVirtualListProps<T>): JSX.Element {
  const { items, rowHeight, height, hasMore = false, loading = false } = props;
  const overscan = props.overscan ?? 6;
  const threshold = props.threshold ?? 20;
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [viewport, setViewport] = React.useState(height);
  const onLoadMore = React.useRef(props.onLoadMore);
  onLoadMore.current = props.onLoadMore;

  // Extra row at the end while more can be fetched: it reads "Loading more…".
  const rows = items.length + (hasMore ? 1 : 0);
  const total = rows * rowHeight;
  const [start, end] = visibleRange(scrollTop, viewport, rowHeight, items.length, overscan);

  const onScroll = React.useCallback(() => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    // Re-render only when the rendered window moves, not on every scrolled pixel.
    setScrollTop(old =>
      Math.floor(old / rowHeight) === Math.floor(el.scrollTop / rowHeight) ? old : el.scrollTop
    );
    if (el.clientHeight && el.clientHeight !== viewport) {
      setViewport(el.clientHeight);
    }
  }, [rowHeight, viewport]);

  React.useEffect(() => {
    if (hasMore && !loading && end >= items.length - threshold) {
      onLoadMore.current?.();
    }
  }, [end, items.length, hasMore, loading, threshold]);

  const shown: JSX.Element[] = [];
  for (let index = start; index < end; index++) {
    const item = items[index];
    shown.push(
      <React.Fragment key={props.itemKey(item)}>
        {props.renderRow(item, index, {
          style: { position: 'absolute', top: index * rowHeight, height: rowHeight },
          'aria-setsize': hasMore ? -1 : items.length,
          'aria-posinset': index + 1
        })}
      </React.Fragment>
    );
  }

  return (
    <div
      ref={scroller}
      className={`labrig-VirtualList${props.className ? ` ${props.className}` : ''}`}
      style={{ height: Math.min(height, total), overflowY: 'auto', position: 'relative' }}
      onScroll={onScroll}
      data-testid={props.testId}
    >
      <ul
        className="labrig-List labrig-VirtualList-rows"
        aria-label={props.ariaLabel}
        style={{ height: total, position: 'relative' }}
      >
        {shown}
        {hasMore && (
          <li
            className="labrig-VirtualList-more labrig-Loading"
            style={{ position: 'absolute', top: items.length * rowHeight, height: rowHeight }}
            aria-live="polite"
          >
            {loading ? 'Loading more…' : 'Scroll for more'}
          </li>
        )}
      </ul>
    </div>
  );
}
