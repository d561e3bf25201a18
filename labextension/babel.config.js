// Jest transforms the ES-module-only dependencies (@jupyter/ydoc, yjs, lib0) with this.
module.exports = require('@jupyterlab/testing/lib/babel-config');
