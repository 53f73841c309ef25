// Some systems report a language no browser API accepts (WebKitGTK says "C"
// when the machine runs with LANG=C); libraries that pass it to Intl then
// throw as they load (uPlot's number format does). Such a language is
// replaced, for this page only, by what Intl itself would use.
function valid(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length > 0;
  } catch {
    return false;
  }
}

if (typeof navigator !== "undefined" && !valid(navigator.language)) {
  const fallback = new Intl.NumberFormat().resolvedOptions().locale;
  Object.defineProperty(navigator, "language", { value: fallback, configurable: true });
  Object.defineProperty(navigator, "languages", { value: [fallback], configurable: true });
}

export {};
