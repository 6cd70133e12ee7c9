// curation-sweeps dashboard: plain ES modules, served as they are (no bundler), one entry
// for both pages (body[data-page]). The pages' data all comes from the JSON API under /v1
// (api.js); each module's first lines say what it holds.
import { listPage } from './list-page.js';
import { sweepPage } from './sweep-page.js';

const page = document.body.dataset.page;
if (page === 'list') listPage();
else if (page === 'sweep') sweepPage();
