/**
 * Stands in for vega-embed in jest: draws one `<path>` per data value into an `<svg>` and
 * keeps the specs it was given, so tests check what would be plotted.
 */
export const embedded: Array<{ element: HTMLElement; spec: any }> = [];

export default async function embed(element: HTMLElement, spec: any): Promise<any> {
  embedded.push({ element, spec });
  const values: unknown[] = spec?.data?.values ?? [];
  element.innerHTML =
    `<svg data-mock-vega="true" aria-label="${spec.description ?? ''}">` +
    values.map(() => '<path class="mark"></path>').join('') +
    '</svg>';
  return { view: {}, spec, finalize: () => undefined };
}
