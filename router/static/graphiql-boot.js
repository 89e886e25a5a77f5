// Mounts GraphiQL on #graphiql. Every script it needs is served by the router itself, so the
// page works without internet access; it queries the URL it was loaded from (/graphql).
(function () {
  "use strict";
  var url = window.location.href.split("?")[0].split("#")[0];
  var fetcher = GraphiQL.createFetcher({ url: url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      // The key stays in this tab: it is never written to the browser's storage.
      shouldPersistHeaders: false,
      defaultHeaders: '{"Authorization": "Bearer <your API key>"}',
      defaultQuery:
        "# Put your API key in the Authorization header below, then run (Ctrl-Enter):\n" +
        "{\n  organisation { identifier name country }\n" +
        "  cards(first: 5) { totalCount edges { node { cardNumber state expiresAt } } }\n}\n",
    })
  );
})();
