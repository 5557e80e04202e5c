// /docs: Swagger UI over this service's /openapi.json, from the service's own assets.
// "Try it out" sends requests to this origin: with the page's cookie, or a token entered
// under "Authorize".
window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // the default validator is another site
    tryItOutEnabled: false,
  });
});
