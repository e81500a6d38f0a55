import * as React from 'react';
import { Root } from 'react-dom/client';

import { ISchedule } from '../jobs/api';
import { ISchedulesListProps, SchedulesList } from '../jobs/SchedulesList';
import { LabrigAPIError, requestAPI } from '../request';
import { mountPoint, unmountPoint } from './mountPoint';

jest.mock('../request', () => ({
  ...jest.requireActual('../request'),
  requestAPI: jest.fn()
}));

const mockRequest = requestAPI as jest.MockedFunction<typeof requestAPI>;
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const NIGHTLY: ISchedule = {
  id: 's1',
  name: 'nightly',
  cron: '0 3 * * *',
  notebook_path: 'exp/train.ipynb',
  paused: false,
  created_at: '2024-01-01T00:00:00+00:00',
  last_occurrence: '2024-01-02T03:00:00+00:00',
  last_job_id: 'j7',
  next_run_at: '2099-01-03T03:00:00+00:00',
  owner: null
};

describe('SchedulesList', () => {
  let host: HTMLElement;
  let root: Root;
  let calls: Array<[string, string]>;
  const onChanged = jest.fn();
  const onJobStarted = jest.fn();
  const onOpenJob = jest.fn();
  const confirm = jest.fn();

  beforeEach(() => {
    calls = [];
    [onChanged, onJobStarted, onOpenJob, confirm].forEach(fn => fn.mockReset());
    mockRequest.mockReset();
    mockRequest.mockImplementation((async (endPoint: string, init: RequestInit = {}) => {
      calls.push([init.method ?? 'GET', endPoint]);
      if (endPoint === 'job-schedules/s1/pause') {
        return { ...NIGHTLY, paused: true, next_run_at: null };
      }
      if (endPoint === 'job-schedules/s1/resume') {
        return NIGHTLY;
      }
      if (endPoint === 'job-schedules/s1/run') {
        return { id: 'j8', name: 'nightly', status: 'QUEUED' };
      }
      if (endPoint === 'job-schedules/s1' && init.method === 'DELETE') {
        return undefined;
      }
      throw new LabrigAPIError({
        status: 404,
        reason: 'not_found',
        field: 'schedule_id',
        message: "no schedule with id 'gone'"
      });
    }) as typeof requestAPI);
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  const render = async (items: ISchedule[], extra: Partial<ISchedulesListProps> = {}) => {
    await React.act(async () => {
      root.render(
        <SchedulesList
          items={items}
          loaded={true}
          error={null}
          hasMore={false}
          onChanged={onChanged}
          onJobStarted={onJobStarted}
          onOpenJob={onOpenJob}
          confirm={confirm}
          {...extra}
        />
      );
    });
  };
  const row = () => host.querySelector('[data-testid="labrig-schedule"]') as HTMLElement;
  const click = async (label: string) => {
    const button = [...row().querySelectorAll('button')].find(b => b.textContent === label);
    expect(button).toBeDefined();
    await React.act(async () => button!.click());
  };

  it('says so when there are none', async () => {
    await render([]);
    expect(host.querySelector('[data-testid="labrig-schedules-empty"]')?.textContent).toBe(
      'No schedules — choose “On a schedule” in the Run-as-job dialog'
    );
    expect(host.querySelector('[data-testid="labrig-schedule"]')).toBeNull();
  });

  it('shows name, cron, notebook, next and last run', async () => {
    await render([NIGHTLY]);
    expect(row().querySelector('.labrig-Item-name')?.textContent).toBe('nightly');
    expect(row().textContent).toContain('0 3 * * *');
    expect(row().textContent).toContain('train.ipynb');
    expect(row().querySelector('[data-testid="labrig-schedule-next"]')?.textContent).toMatch(
      /^next /
    );
    expect(row().querySelector('[data-testid="labrig-schedule-last"]')?.textContent).toContain(
      'job j7'
    );
    await click('job j7');
    expect(onOpenJob).toHaveBeenCalledWith('j7');

    await render([{ ...NIGHTLY, paused: true, next_run_at: null, last_job_id: null }]);
    expect(row().querySelector('[data-testid="labrig-schedule-next"]')?.textContent).toBe('paused');
    expect(row().querySelector('[data-testid="labrig-schedule-last"]')?.textContent).toBe(
      'not run on schedule yet'
    );
  });

  it('pauses and resumes through their endpoints, then refreshes', async () => {
    await render([NIGHTLY]);
    await click('Pause');
    expect(calls).toEqual([['POST', 'job-schedules/s1/pause']]);
    expect(onChanged).toHaveBeenCalledTimes(1);

    await render([{ ...NIGHTLY, paused: true, next_run_at: null }]);
    await click('Resume');
    expect(calls[1]).toEqual(['POST', 'job-schedules/s1/resume']);
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it('runs now and reports the job it started', async () => {
    await render([NIGHTLY]);
    await click('Run now');
    expect(calls).toEqual([['POST', 'job-schedules/s1/run']]);
    expect(onJobStarted).toHaveBeenCalledWith({ id: 'j8', name: 'nightly', status: 'QUEUED' });
    expect(onChanged).toHaveBeenCalledTimes(1);
    expect(row().querySelector('[role="status"]')?.textContent).toBe('Started job nightly (j8).');
  });

  it('deletes only after the user confirms', async () => {
    await render([NIGHTLY]);
    confirm.mockResolvedValueOnce(false);
    await click('Delete');
    expect(confirm).toHaveBeenCalledWith(
      'Delete schedule',
      'Delete the schedule "nightly" (0 3 * * *)? Jobs it started are kept.',
      'Delete'
    );
    expect(calls).toEqual([]);
    expect(onChanged).not.toHaveBeenCalled();

    confirm.mockResolvedValueOnce(true);
    await click('Delete');
    expect(calls).toEqual([['DELETE', 'job-schedules/s1']]);
    expect(onChanged).toHaveBeenCalledTimes(1);
  });

  it("shows the server's message, not its JSON, when an action fails", async () => {
    await render([{ ...NIGHTLY, id: 'gone' }]);
    await click('Run now');
    expect(calls).toEqual([['POST', 'job-schedules/gone/run']]);
    const alert = row().querySelector('[role="alert"]');
    expect(alert?.textContent).toBe("no schedule with id 'gone'");
    expect(onChanged).not.toHaveBeenCalled();
    expect(onJobStarted).not.toHaveBeenCalled();
  });

  it('shows the listing error as an alert', async () => {
    const error = new LabrigAPIError({
      status: 503,
      reason: 'x',
      message: 'The database is busy.'
    });
    await render([], { error });
    expect(host.querySelector('[role="alert"]')?.textContent).toBe('The database is busy.');
    expect(host.querySelector('[data-testid="labrig-schedules-empty"]')).toBeNull();
  });
});
