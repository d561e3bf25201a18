// The extension's icon: a sparkle, themed through JupyterLab's jp-icon3 fill.
import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M10 2.5l1.9 5.6 5.6 1.9-5.6 1.9L10 17.5l-1.9-5.6L2.5 10l5.6-1.9z"/>
    <path d="M18 13l1 3 3 1-3 1-1 3-1-3-3-1 3-1z"/>
  </g>
</svg>`;

export const assistIcon = new LabIcon({
  name: 'jupyter-assist:sparkle',
  svgstr
});
