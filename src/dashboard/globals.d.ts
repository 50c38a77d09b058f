// The page loads uPlot's browser build (/dashboard/uplot.js), which defines a global `uPlot`.
import type uPlotClass from "uplot";

declare global {
  const uPlot: typeof uPlotClass;
}
