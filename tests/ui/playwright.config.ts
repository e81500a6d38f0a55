/**
 * Playwright configuration for the labrig UI tests.
 *
 * Run from the repository root: `jlpm test:ui`. Chromium comes from the system
 * (`/usr/bin/chromium`, or $LABRIG_CHROMIUM); no browser is downloaded.
 */
import * as path from 'path';

import { PlaywrightTestConfig } from '@playwright/test';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const ROOT = path.resolve(__dirname, '..', '..');
const PORT = Number(process.env.LABRIG_UI_PORT ?? 18888);
// The end-to-end scenario's server: the demo workspace of `make run` (see
// jupyter_server_test_config.py), one port above the section specs' server.
const DEMO_PORT = PORT + 1;
const JUPYTER = path.join(ROOT, '.venv', 'bin', 'jupyter');
const serverEnv = (extra: { [key: string]: string }) =>
  ({ ...process.env, LABRIG_UI_PORT: String(PORT), ...extra }) as { [key: string]: string };

const config: PlaywrightTestConfig = {
  ...baseConfig,
  testDir: __dirname,
  // The foundation spec checks the sections' empty states, so it runs before the section
  // specs, which leave datasets, jobs and models behind on the shared server. The end-to-end
  // scenario runs alone on its own server, the demo workspace as a new user finds it.
  projects: [
    { name: 'foundation', testMatch: 'labrig.spec.ts' },
    {
      name: 'sections',
      testMatch: '**/*.spec.ts',
      testIgnore: ['labrig.spec.ts', 'e2e.spec.ts'],
      dependencies: ['foundation']
    },
    {
      name: 'end-to-end',
      testMatch: 'e2e.spec.ts',
      use: { baseURL: `http://localhost:${DEMO_PORT}` }
    }
  ],
  outputDir: path.join(__dirname, 'test-results'),
  timeout: 120 * 1000,
  expect: { timeout: 15 * 1000 },
  retries: 0,
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  reporter: [
    [process.env.CI ? 'line' : 'list'],
    ['html', { open: 'never', outputFolder: path.join(__dirname, 'playwright-report') }]
  ],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${PORT}`,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: process.env.LABRIG_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: [
    {
      command: `${JUPYTER} lab --config tests/ui/jupyter_server_test_config.py`,
      cwd: ROOT,
      url: `http://localhost:${PORT}/lab`,
      timeout: 180 * 1000,
      reuseExistingServer: !process.env.CI,
      env: serverEnv({})
    },
    {
      command: `${JUPYTER} lab --config tests/ui/jupyter_server_test_config.py`,
      cwd: ROOT,
      url: `http://localhost:${DEMO_PORT}/lab`,
      timeout: 180 * 1000,
      reuseExistingServer: !process.env.CI,
      env: serverEnv({ LABRIG_UI_WORKSPACE: 'demo' })
    }
  ]
};

export default config;
