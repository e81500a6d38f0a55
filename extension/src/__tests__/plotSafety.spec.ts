/**
 * Plots of metrics and runs that users named: the names travel as data, never as a title that
 * Vega-Lite splices into an expression (JupyterLab's Vega-Lite 5.6 does so unescaped), and the
 * specifications compile and parse with the real Vega-Lite and Vega.
 */
import './vegaInJsdom';

import { parse } from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';

import { curvesSpec, jobCurves, versionsSpec } from '../plots/specs';

const IMG = '<img src=x onerror="window.__xss=1">';

describe('plots of user-named metrics', () => {
  // Each marker stands for text a user chose; none may reach a title or an expression.
  const names: Array<[string, string]> = [
    [IMG, 'onerror'],
    ['x": 1, "injected": "', 'injected']
  ];

  /** Every signal and expression string of a compiled Vega spec. */
  function expressions(node: unknown, found: string[] = []): string[] {
    if (Array.isArray(node)) {
      node.forEach(item => expressions(item, found));
    } else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'signal' || key === 'expr' || key === 'update') && typeof value === 'string') {
          found.push(value);
        }
        expressions(value, found);
      }
    }
    return found;
  }

  it.each(names)('carries %j as data only, and the plot compiles', (name, marker) => {
    const points = [0, 1].map(step => ({ step, value: 1 / (step + 1), rank: step }));
    const specs = [
      curvesSpec(name, jobCurves(points, name)),
      versionsSpec(name, [{ version: 1, value: 0.5 }])
    ];
    for (const spec of specs) {
      const { data, description, ...drawn } = spec as { data: unknown; description: string };
      expect(JSON.stringify(data)).toContain(marker);
      expect(description).toContain(name);
      expect(JSON.stringify(drawn)).not.toContain(marker);
      const vega = compile(spec as TopLevelSpec).spec;
      expect(() => parse(vega)).not.toThrow();
      expect(expressions(vega).filter(text => text.includes(marker))).toEqual([]);
    }
  });
});
