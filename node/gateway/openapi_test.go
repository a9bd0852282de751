package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/walrus-go/walrus-go/node/gateway"
)

// apiDocs are the published Walrus API documents, loaded and validated once by
// kin-openapi. Every JSON response of these tests is checked against the schema the
// document gives its route, method and status (or, for a status the document does not
// list for the route, such as 401, 413 or 429, against components.schemas.Status).
var apiDocs struct {
	once sync.Once
	docs map[gateway.Role]*openapi3.T
	err  error
}

func loadDocs(t testing.TB) map[gateway.Role]*openapi3.T {
	t.Helper()
	apiDocs.once.Do(func() {
		apiDocs.docs = map[gateway.Role]*openapi3.T{}
		for _, role := range []gateway.Role{gateway.RolePublisher, gateway.RoleAggregator, gateway.RoleDaemon} {
			b, err := gateway.OpenAPI(role)
			if err != nil {
				apiDocs.err = err
				return
			}
			doc, err := openapi3.NewLoader().LoadFromData(b)
			if err != nil {
				apiDocs.err = fmt.Errorf("%v: %w", role, err)
				return
			}
			// The published documents have examples that do not match their schemas (a string
			// example for the object QuiltPatchId): examples are not checked, everything else is.
			if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
				apiDocs.err = fmt.Errorf("%v document: %w", role, err)
				return
			}
			apiDocs.docs[role] = doc
		}
	})
	if apiDocs.err != nil {
		t.Fatal(apiDocs.err)
	}
	return apiDocs.docs
}

// response is a response read whole (bounded).
type response struct {
	code   int
	header http.Header
	body   []byte
}

// checkJSON validates resp's body against the schema of role's document for the route
// (path template), method and status. A JSON body is required for an error status and
// for a documented JSON response. It returns the decoded JSON (nil for a non-JSON body).
func checkJSON(t testing.TB, role gateway.Role, method, route string, resp *response) any {
	t.Helper()
	doc := loadDocs(t)[role]
	ct := resp.header.Get("Content-Type")
	isJSON := strings.HasPrefix(ct, "application/json")
	var schema *openapi3.Schema
	if item := doc.Paths.Value(route); item != nil {
		if op := item.GetOperation(strings.ToUpper(method)); op != nil {
			if rr := op.Responses.Value(strconv.Itoa(resp.code)); rr != nil && rr.Value != nil {
				if mt := rr.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					schema = mt.Schema.Value
				}
			}
		}
	}
	if schema == nil && resp.code >= 400 {
		schema = doc.Components.Schemas["Status"].Value
	}
	if schema == nil {
		if isJSON {
			t.Fatalf("%s %s answered %d with JSON the document does not describe: %s", method, route, resp.code, resp.body)
		}
		return nil
	}
	if !isJSON {
		t.Fatalf("%s %s answered %d with Content-Type %q, the document says JSON; body %q", method, route, resp.code, ct, resp.body)
	}
	var v any
	if err := json.Unmarshal(resp.body, &v); err != nil {
		t.Fatalf("%s %s answered %d with bad JSON %q: %v", method, route, resp.code, resp.body, err)
	}
	if err := doc.ValidateSchemaJSON(schema, v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Fatalf("%s %s answered %d with JSON not valid against the document: %v\nbody: %s", method, route, resp.code, err, resp.body)
	}
	if resp.code >= 400 {
		var st gateway.Status
		if err := json.Unmarshal(resp.body, &st); err != nil || st.Reason() == "" || st.Error.Code != resp.code {
			t.Fatalf("%s %s: error body without a reason or with another code: %s", method, route, resp.body)
		}
	}
	return v
}

// reasonOf returns the stable reason of an error response.
func reasonOf(t testing.TB, resp *response) string {
	t.Helper()
	var st gateway.Status
	if err := json.Unmarshal(resp.body, &st); err != nil {
		t.Fatalf("error body %q: %v", resp.body, err)
	}
	return st.Reason()
}

// do sends req with c and reads the response, at most 64 MiB of body.
func do(t testing.TB, c *http.Client, req *http.Request) *response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return &response{code: resp.StatusCode, header: resp.Header, body: b}
}

func TestOpenAPIDocumentsLoad(t *testing.T) {
	docs := loadDocs(t)
	// The validator really validates: a Status without its details is refused.
	st := docs[gateway.RoleAggregator].Components.Schemas["Status"].Value
	var bad any
	if err := json.Unmarshal([]byte(`{"error":{"code":404,"status":"NOT_FOUND","message":"x"}}`), &bad); err != nil {
		t.Fatal(err)
	}
	if err := docs[gateway.RoleAggregator].ValidateSchemaJSON(st, bad, openapi3.EnableJSONSchema2020()); err == nil {
		t.Fatal("a Status without details validated")
	}
	// And a newlyCreated result without its cost is refused.
	res := docs[gateway.RolePublisher].Components.Schemas["BlobStoreResult"].Value
	if err := json.Unmarshal([]byte(`{"newlyCreated":{"blob_object":{},"resource_operation":{}}}`), &bad); err != nil {
		t.Fatal(err)
	}
	if err := docs[gateway.RolePublisher].ValidateSchemaJSON(res, bad, openapi3.EnableJSONSchema2020()); err == nil {
		t.Fatal("a newlyCreated result without cost validated")
	}
}
