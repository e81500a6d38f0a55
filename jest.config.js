const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@marijn',
  '@microsoft',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  reporters: ['default'],
  roots: ['<rootDir>/extension/src'],
  moduleNameMapper: {
    ...baseConfig.moduleNameMapper,
    // Vega draws into a real layout engine; jsdom has none, so tests see a stand-in that
    // records what it was asked to draw (extension/src/__tests__/mocks/vega-embed.ts).
    '^vega-embed$': '<rootDir>/extension/src/__tests__/mocks/vega-embed.ts'
  },
  testRegex: 'extension/src/__tests__/.*\\.spec\\.tsx?$',
  transform: {
    ...baseConfig.transform,
    '^.+\\.tsx?$': ['ts-jest/legacy', { tsconfig: './tsconfig.json' }]
  },
  collectCoverageFrom: ['extension/src/**/*.{ts,tsx}', '!extension/src/**/*.d.ts'],
  coverageReporters: ['text'],
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
