import { LabIcon } from '@jupyterlab/ui-components';

import labrigSvgstr from '../style/icons/labrig.svg';
import runJobSvgstr from '../style/icons/run-job.svg';

/**
 * The labrig icon (sidebar tab, palette).
 */
export const labrigIcon = new LabIcon({ name: 'labrig:icon', svgstr: labrigSvgstr });

/**
 * The "Run as job" icon (notebook toolbar).
 */
export const runJobIcon = new LabIcon({ name: 'labrig:run-job', svgstr: runJobSvgstr });
