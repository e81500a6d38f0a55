/**
 * One-click links between the sections (a job's datasets and model versions, a version's job,
 * snapshot and datasets, a dataset's kernels and jobs, a GPU's holder).
 *
 * Every link goes through `ILabrigLinks`, which checks first that its target still exists: a
 * link to something deleted meanwhile says so ("job 1a2b3c4d… was deleted") beside the link
 * instead of opening an empty view.
 */
import * as React from 'react';

import { toLabrigError } from '../request';

/**
 * What opening a link came to: null when the target opened, else a sentence saying why not.
 */
export type LinkOutcome = string | null;

/**
 * Context a snapshot is opened in: where it came from and the parameters it ran with.
 */
export interface ISnapshotContext {
  notebookPath?: string | null;
  parameters?: { [name: string]: unknown };
  jobId?: string;
}

/**
 * Where links lead. The application wires the real one (`index.ts`); tests pass fakes.
 */
export interface ILabrigLinks {
  openJob(id: string): Promise<LinkOutcome>;
  openDataset(name: string): Promise<LinkOutcome>;
  openModelVersion(model: string, version: number): Promise<LinkOutcome>;
  openSnapshot(sha256: string, context?: ISnapshotContext): Promise<LinkOutcome>;
  openNotebook(path: string): Promise<LinkOutcome>;
  compareJobs(a: string, b: string): Promise<LinkOutcome>;
  compareVersions(model: string, a: number, b: number): Promise<LinkOutcome>;
}

const nowhere = async (): Promise<LinkOutcome> => 'This link cannot be opened here.';

/** Links that open nothing (outside JupyterLab, e.g. in tests without a provider). */
export const NO_LINKS: ILabrigLinks = {
  openJob: nowhere,
  openDataset: nowhere,
  openModelVersion: nowhere,
  openSnapshot: nowhere,
  openNotebook: nowhere,
  compareJobs: nowhere,
  compareVersions: nowhere
};

export const LinksContext = React.createContext<ILabrigLinks>(NO_LINKS);

export function useLinks(): ILabrigLinks {
  return React.useContext(LinksContext);
}

/**
 * Check that a target exists before opening it: `gone` when the check answers 404, the error's
 * own message for any other failure, null (go ahead) when it loads.
 */
export async function checkTarget(
  load: () => Promise<unknown>,
  gone: string
): Promise<LinkOutcome> {
  try {
    await load();
    return null;
  } catch (reason) {
    const error = toLabrigError(reason);
    return error.status === 404 ? gone : error.message;
  }
}

/**
 * Something that exists but is another user's (their job, its snapshot, their private
 * dataset): plain text, never a link, since opening it would only be refused.
 */
export function HiddenEntity(props: {
  children: React.ReactNode;
  /** Said after the text, e.g. "(another user's job)". */
  note?: string;
  testId?: string;
}): JSX.Element {
  return (
    <span
      className="labrig-Link labrig-mod-hidden"
      data-testid={props.testId ?? 'labrig-hidden-entity'}
      title="Another user's: only they and administrators can open it"
    >
      {props.children}
      {props.note && <span className="labrig-Muted"> {props.note}</span>}
    </span>
  );
}

/**
 * A link-styled button that opens a target through `ILabrigLinks`, and says so beside itself
 * when the target was deleted. With `exists` false it is plain text marked "(deleted)".
 */
export function EntityLink(props: {
  open: (links: ILabrigLinks) => Promise<LinkOutcome>;
  children: React.ReactNode;
  /** The accessible name, when the visible text alone is ambiguous ("v1"). */
  label?: string;
  title?: string;
  exists?: boolean;
  className?: string;
  testId?: string;
}): JSX.Element {
  const links = useLinks();
  const [message, setMessage] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const mounted = React.useRef(true);
  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  if (props.exists === false) {
    return (
      <span className="labrig-Link labrig-mod-gone" data-testid={props.testId} title={props.title}>
        {props.children} <span className="labrig-Muted">(deleted)</span>
      </span>
    );
  }
  const click = async (): Promise<void> => {
    if (busy) {
      return;
    }
    setBusy(true);
    setMessage(null);
    const outcome = await props.open(links);
    if (mounted.current) {
      setBusy(false);
      setMessage(outcome);
    }
  };
  return (
    <span className="labrig-Link">
      <button
        type="button"
        className={`labrig-LinkButton${props.className ? ` ${props.className}` : ''}`}
        aria-label={props.label}
        title={props.title}
        // Not `disabled`: that would drop keyboard focus while the target is checked.
        aria-busy={busy}
        data-testid={props.testId}
        onClick={() => void click()}
      >
        {props.children}
      </button>
      {message && (
        <span className="labrig-LinkGone" role="status" data-testid="labrig-link-gone">
          {message}
        </span>
      )}
    </span>
  );
}
