// @curation/plots: server-rendered, self-contained SVG plots (pure, no I/O, no dependencies).

export { heatmapSvg, type HeatmapInput, type HeatmapCell, type Category } from './heatmap.ts';
export { linePlotSvg, type LinePlotInput, type LinePoint } from './lineplot.ts';
export { trajectoryPlotSvg, type TrajectoryPlotInput, type TrajectoryRow } from './trajectory.ts';
export { niceTicks, niceNum, logTicks, linearScale, logScale, tickLabels, type Scale, type TickLabel } from './scale.ts';
export { formatNumber, formatTicks, formatCategory, escapeXml, textWidth, truncate } from './format.ts';
export { viridis, VIRIDIS_STOPS, PALETTE, seriesColor, luminance, textColorOn } from './color.ts';
export { emptySvg, svgDocument } from './svg.ts';
export { refinedPlotSvg, type RefinedPlotInput, type RefinedCell } from './refined.ts';
