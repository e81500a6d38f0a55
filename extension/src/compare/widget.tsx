/**
 * The main-area widget of a comparison.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ILabrigLinks, LinksContext } from '../links/links';
import { CompareView } from './CompareView';
import { ISide } from './data';

export function createCompareWidget(
  id: string,
  title: string,
  load: () => Promise<[ISide, ISide]>,
  links: ILabrigLinks
): MainAreaWidget {
  const content = ReactWidget.create(
    <LinksContext.Provider value={links}>
      <CompareView load={load} />
    </LinksContext.Provider>
  );
  content.addClass('labrig-JobWidget');
  const widget = new MainAreaWidget({ content });
  widget.id = id;
  widget.title.label = title;
  widget.title.caption = title;
  widget.title.closable = true;
  return widget;
}
