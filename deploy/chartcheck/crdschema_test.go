package chartcheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// CustomResource is a rendered object of a kind whose schema comes from a
// pinned CRD (testdata/crds) rather than from a Go type.
type CustomResource struct {
	metav1.ObjectMeta
	APIVersion string
	Kind       string
	Object     map[string]any // the whole manifest, as JSON decodes it
}

// crdSchema validates objects of one kind and version as the API server
// does for a CRD: the OpenAPI schema (types, enums, formats, required
// fields), the x-kubernetes-validations CEL rules, and, stricter than the
// server, which would silently prune them, no field the schema lacks.
type crdSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaCreateValidator
	cel        *cel.Validator
}

// crdSchemas are the pinned CRDs, by "apiVersion Kind".
var crdSchemas = sync.OnceValues(func() (map[string]*crdSchema, error) {
	files, err := filepath.Glob(filepath.Join("testdata", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no CRDs under testdata/crds (%v)", err)
	}
	out := map[string]*crdSchema{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s: version %s has no schema", f, v.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: not a structural schema: %w", f, v.Name, err)
			}
			validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = &crdSchema{
				structural: structural,
				validator:  validator,
				cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	return out, nil
})

// hasCRD reports whether apiVersionKind ("group/version Kind") has a pinned
// schema.
func hasCRD(apiVersionKind string) bool {
	s, err := crdSchemas()
	return err == nil && s[apiVersionKind] != nil
}

// decodeCustom validates one manifest against its pinned CRD and returns
// it.
func decodeCustom(apiVersionKind, doc string) (*CustomResource, error) {
	schemas, err := crdSchemas()
	if err != nil {
		return nil, err
	}
	s := schemas[apiVersionKind]
	if s == nil {
		return nil, fmt.Errorf("no pinned CRD for %s", apiVersionKind)
	}
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	// The apimachinery decoder keeps whole numbers as int64, as the API
	// server does; encoding/json would make them float64.
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		return nil, err
	}
	if err := s.validate(obj); err != nil {
		return nil, err
	}
	cr := &CustomResource{Object: obj}
	cr.APIVersion, cr.Kind, _ = strings.Cut(apiVersionKind, " ")
	if md, ok := obj["metadata"]; ok {
		b, _ := utiljson.Marshal(md)
		if err := yaml.UnmarshalStrict(b, &cr.ObjectMeta); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	return cr, nil
}

// validate returns every way obj breaks the schema, or nil.
func (s *crdSchema) validate(obj map[string]any) error {
	var problems []string
	unknown := pruning.PruneWithOptions(runtime.DeepCopyJSON(obj), s.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		problems = append(problems, "unknown field "+p)
	}
	// The server applies the schema's defaults before it validates, and
	// some rules read defaulted fields.
	defaulted := runtime.DeepCopyJSON(obj)
	structuraldefaulting.Default(defaulted, s.structural)
	for _, e := range apiservervalidation.ValidateCustomResource(nil, defaulted, s.validator) {
		problems = append(problems, e.Error())
	}
	errs, _ := s.cel.Validate(context.Background(), nil, s.structural, defaulted, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range errs {
		problems = append(problems, e.Error())
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("does not match its CRD's schema:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
