import * as React from 'react';
import { Root } from 'react-dom/client';

import { IVirtualListProps, VirtualList, visibleRange } from '../panel/VirtualList';
import { mountPoint, unmountPoint } from './mountPoint';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const ROW = 40;
const HEIGHT = 400; // ten rows in view

function items(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `item-${i}`);
}

describe('visibleRange', () => {
  it('covers the rows in view plus the overscan, clamped to the list', () => {
    expect(visibleRange(0, 400, 40, 10000, 5)).toEqual([0, 15]);
    expect(visibleRange(4000, 400, 40, 10000, 5)).toEqual([95, 115]);
    expect(visibleRange(399_600, 400, 40, 10000, 5)).toEqual([9985, 10000]);
  });
});

describe('VirtualList', () => {
  let host: HTMLElement;
  let root: Root;

  beforeEach(() => {
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  const render = async (props: Partial<IVirtualListProps<string>> & { items: string[] }) => {
    await React.act(async () => {
      root.render(
        <VirtualList<string>
          itemKey={item => item}
          renderRow={(item, _i, row) => (
            <li {...row} data-testid="row">
              {item}
            </li>
          )}
          rowHeight={ROW}
          height={HEIGHT}
          overscan={3}
          threshold={20}
          ariaLabel="Things"
          {...props}
        />
      );
    });
  };

  const rows = () => [...host.querySelectorAll('[data-testid="row"]')] as HTMLElement[];
  const scrollTo = async (top: number) => {
    const scroller = host.querySelector('.labrig-VirtualList') as HTMLElement;
    Object.defineProperty(scroller, 'scrollTop', { value: top, configurable: true });
    await React.act(async () => {
      scroller.dispatchEvent(new Event('scroll'));
    });
  };

  it('renders only the rows in view of 10,000, at their offsets', async () => {
    await render({ items: items(10000) });
    expect(rows().map(r => r.textContent)).toEqual(items(13));
    const scroller = host.querySelector('.labrig-VirtualList') as HTMLElement;
    expect(scroller.style.height).toBe('400px');
    expect((host.querySelector('ul') as HTMLElement).style.height).toBe(`${10000 * ROW}px`);
    expect(rows()[2].style.top).toBe('80px');
    expect(rows()[2].getAttribute('aria-posinset')).toBe('3');
    expect(rows()[2].getAttribute('aria-setsize')).toBe('10000');

    await scrollTo(5000 * ROW);
    const shown = rows().map(r => r.textContent);
    expect(shown).toHaveLength(16);
    expect(shown[0]).toBe('item-4997');
    expect(shown[shown.length - 1]).toBe('item-5012');
    expect(rows()[0].style.top).toBe(`${4997 * ROW}px`);
  });

  it('shrinks to its rows when they do not fill it', async () => {
    await render({ items: items(3) });
    expect(rows()).toHaveLength(3);
    expect((host.querySelector('.labrig-VirtualList') as HTMLElement).style.height).toBe('120px');
  });

  it('asks for the next page only near the end, once per position, not while loading', async () => {
    const onLoadMore = jest.fn();
    await render({ items: items(100), hasMore: true, onLoadMore });
    expect(onLoadMore).not.toHaveBeenCalled();
    expect(host.textContent).toContain('Scroll for more');

    await scrollTo(40 * ROW); // rows 37-53 rendered: 47 rows from the end
    expect(onLoadMore).not.toHaveBeenCalled();

    await scrollTo(75 * ROW); // last rendered row 88: within 20 of the end
    expect(onLoadMore).toHaveBeenCalledTimes(1);

    await render({ items: items(100), hasMore: true, loading: true, onLoadMore });
    expect(host.textContent).toContain('Loading more…');
    await scrollTo(80 * ROW);
    expect(onLoadMore).toHaveBeenCalledTimes(1);

    // The page arrived: 150 rows, the view is far from the new end.
    await render({ items: items(150), hasMore: true, loading: false, onLoadMore });
    expect(onLoadMore).toHaveBeenCalledTimes(1);

    await render({ items: items(150), hasMore: false, onLoadMore });
    await scrollTo(140 * ROW);
    expect(onLoadMore).toHaveBeenCalledTimes(1);
    expect(host.textContent).not.toContain('Scroll for more');
    expect(rows()[rows().length - 1].textContent).toBe('item-149');
  });
});
