/**
 * Names and free text render as text: HTML/JS payloads in what users type (dataset sources,
 * parameters, job names) never become elements, and a notebook snapshot never renders its
 * outputs as trusted, whatever its cell metadata claims.
 */
import { Sanitizer } from '@jupyterlab/apputils';
import { NotebookModel } from '@jupyterlab/notebook';
import {
  IOutputModel,
  RenderMimeRegistry,
  standardRendererFactories
} from '@jupyterlab/rendermime';
import * as React from 'react';
import { Root } from 'react-dom/client';

import { DatasetsView } from '../datasets/DatasetsView';
import { ISnapshot } from '../links/api';
import { SnapshotHeader, untrustedNotebook } from '../links/SnapshotView';
import { mountPoint, unmountPoint } from './mountPoint';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = '<script>window.__xss=2</script>';

/** A notebook whose code cell claims trust and carries an HTML output with a payload. */
function trustedClaim(): ISnapshot['notebook'] {
  return {
    cells: [
      {
        cell_type: 'code',
        execution_count: 1,
        metadata: { trusted: true, tags: ['keep'] },
        outputs: [
          { output_type: 'display_data', data: { 'text/html': IMG + SCRIPT }, metadata: {} }
        ],
        source: 'display(HTML(payload))'
      }
    ],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5
  };
}

describe('a notebook snapshot is untrusted', () => {
  it('drops the trust a cell claims, keeps everything else, changes nothing given', () => {
    const given = trustedClaim();
    const cleaned = untrustedNotebook(given);
    const cell = cleaned.cells[0];
    expect(cell.metadata).toEqual({ tags: ['keep'] });
    expect(cell.source).toBe('display(HTML(payload))');
    expect((cell as { outputs: unknown[] }).outputs).toHaveLength(1);
    expect((given.cells[0] as { metadata: { trusted: boolean } }).metadata.trusted).toBe(true);
  });

  it('renders the HTML output sanitised: no handler, no script', async () => {
    const claimed = new NotebookModel();
    claimed.fromJSON(trustedClaim() as never);
    // Why the snapshot view cleans the JSON: JupyterLab trusts what the metadata says.
    expect(claimed.cells.get(0).trusted).toBe(true);

    const model = new NotebookModel();
    model.fromJSON(untrustedNotebook(trustedClaim()));
    const cell = model.cells.get(0) as unknown as {
      trusted: boolean;
      outputs: { get(index: number): IOutputModel };
    };
    expect(cell.trusted).toBe(false);
    const output = cell.outputs.get(0);
    expect(output.trusted).toBe(false);

    const rendermime = new RenderMimeRegistry({
      initialFactories: standardRendererFactories,
      sanitizer: new Sanitizer()
    });
    const renderer = rendermime.createRenderer('text/html');
    await renderer.renderModel(output);
    const html = renderer.node.innerHTML;
    expect(html).not.toContain('onerror');
    expect(renderer.node.querySelector('script')).toBeNull();
    expect((window as { __xss?: number }).__xss).toBeUndefined();
  });
});

describe('user text in the panel', () => {
  let host: HTMLElement;
  let root: Root;

  beforeEach(() => {
    ({ host, root } = mountPoint());
  });

  afterEach(async () => {
    await unmountPoint(root, host);
  });

  it('shows a dataset source and a snapshot parameter literally', async () => {
    await React.act(async () => {
      root.render(
        <>
          <DatasetsView
            items={[
              {
                name: 'xss-data',
                source_url: `file:///tmp/${IMG}`,
                read_only: true,
                include: null,
                version: null,
                created_at: '2024-01-01T00:00:00Z',
                owner: null,
                private: false,
                options: {},
                admin: false,
                pinned: false,
                mount_path: null,
                files: null,
                bytes: null,
                complete: false
              }
            ]}
            onChanged={() => undefined}
          />
          <SnapshotHeader
            snapshot={{
              sha256: 'ab'.repeat(32),
              notebook_path: `nb/${IMG}.ipynb`,
              jobs: [],
              notebook: { cells: [], metadata: {} }
            }}
            context={{ parameters: { label: IMG, note: SCRIPT } }}
          />
        </>
      );
    });
    expect(host.querySelector('img, script')).toBeNull();
    expect(host.textContent).toContain(`file:///tmp/${IMG}`);
    expect(host.textContent).toContain(`${IMG}.ipynb`);
    expect(host.querySelector('[data-testid="labrig-snapshot-parameters"]')!.textContent).toContain(
      JSON.stringify(IMG)
    );
    expect(host.textContent).toContain(SCRIPT);
  });
});
