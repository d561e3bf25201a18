// JupyterLab's jest setup (as in the extension template): ts-jest for our
// sources, babel for the ES-module dependencies.
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

module.exports = {
  ...jestJupyterLab(__dirname),
  // The default adds jest-junit, which writes junit.xml into the tree.
  reporters: ['default'],
  testRegex: 'src/__tests__/.*\\.spec\\.ts$'
};
