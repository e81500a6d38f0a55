/**
 * Stands in for vega-embed in jest: draws one `<path>` per data value into an `<svg>` and
 * keeps the specs it was given, so tests check what would be plotted.
 */
export const embedded: Array<{ element: HTMLElement; spec: any }> = [];

export default async function embed(element: HTMLElement, spec: any): Promise<any> {
  embedded.push({ element, spec });
  const values: unknown[] = spec?.data?.values ?? [];
  // Built node by node: a description holding markup (a user's metric name) stays text.
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('data-mock-vega', 'true');
  svg.setAttribute('aria-label', spec.description ?? '');
  values.forEach(() => {
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('class', 'mark');
    svg.appendChild(path);
  });
  element.replaceChildren(svg);
  return { view: {}, spec, finalize: () => undefined };
}
