import { Signal } from '@lumino/signaling';

import { requestAPI } from '../request';
import { watchKernelStops } from '../resources/stopNotice';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));
jest.mock('../resources/confirm', () => ({ notifyError: jest.fn() }));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;

describe('watchKernelStops', () => {
  it('tells the user why labrig stopped the kernel, once, and not for old stops', async () => {
    let lastStop: { holder: string; message: string; at: string } | null = {
      holder: 'kernel:old',
      message: 'kernel stopped: memory limit 1 GiB reached',
      at: '2026-11-29T00:00:00+00:00'
    };
    mockRequest.mockImplementation((async () => ({ last_stop: lastStop })) as typeof requestAPI);
    const owner = {};
    const statusChanged = new Signal<object, string>(owner);
    const notify = jest.fn();
    await watchKernelStops(
      { context: { path: 'exp/big.ipynb' }, sessionContext: { statusChanged } },
      notify,
      0
    );
    const settle = () => new Promise<void>(resolve => setTimeout(resolve, 20));

    statusChanged.emit('busy');
    statusChanged.emit('autorestarting');
    await settle();
    expect(notify).not.toHaveBeenCalled(); // the stop from before the watch is not repeated

    lastStop = {
      holder: 'kernel:k1',
      message: 'kernel stopped: memory limit 4 GiB reached',
      at: '2026-11-30T00:00:00+00:00'
    };
    statusChanged.emit('autorestarting');
    await settle();
    statusChanged.emit('restarting');
    await settle();
    expect(notify.mock.calls).toEqual([['big.ipynb: kernel stopped: memory limit 4 GiB reached']]);
    expect(mockRequest.mock.calls[0][0]).toBe('resources/exp/big.ipynb');
  });
});
