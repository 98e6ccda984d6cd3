// Renders LaTeX strings as a notebook would, with KaTeX and with MathJax 3 (base and ams packages, as
// Jupyter loads them): reads a JSON list of strings on stdin, prints a JSON list with, for each,
// {"katex": null or KaTeX's error, "mathjax": null or MathJax's error, or "missing" for an absent renderer}.
// Usage: node render_latex.js NODE_MODULES_DIR < strings.json
const path = require("path");
const modules = path.resolve(process.argv[2]);

function load(name) {
  try { return require(path.join(modules, name)); } catch (e) { return null; }
}

const katex = load("katex");
let mathjax = null;
const mj = load("mathjax-full/js/mathjax.js");
if (mj) {
  const { TeX } = load("mathjax-full/js/input/tex.js");
  const { SVG } = load("mathjax-full/js/output/svg.js");
  const { liteAdaptor } = load("mathjax-full/js/adaptors/liteAdaptor.js");
  const { RegisterHTMLHandler } = load("mathjax-full/js/handlers/html.js");
  load("mathjax-full/js/input/tex/base/BaseConfiguration.js");
  load("mathjax-full/js/input/tex/ams/AmsConfiguration.js");
  const adaptor = liteAdaptor();
  RegisterHTMLHandler(adaptor);
  const tex = new TeX({ packages: ["base", "ams"], formatError: (jax, err) => { throw err; } });
  const doc = mj.mathjax.document("", { InputJax: tex, OutputJax: new SVG({ fontCache: "none" }) });
  mathjax = (s) => doc.convert(s, { display: true });
}

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((s) => {
    const out = { katex: "missing", mathjax: "missing" };
    if (katex) {
      try { katex.renderToString(s, { displayMode: true, throwOnError: true, strict: "error" }); out.katex = null; }
      catch (e) { out.katex = String(e.message || e); }
    }
    if (mathjax) {
      try { mathjax(s); out.mathjax = null; } catch (e) { out.mathjax = String(e.message || e); }
    }
    return out;
  });
  process.stdout.write(JSON.stringify(results));
});
