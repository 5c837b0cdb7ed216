package config

import (
	_ "embed"
	"fmt"
	"sort"
	"sync"

	"github.com/BurntSushi/toml"
)

// catalogueTOML is the parameter catalogue: every main.cf parameter with its
// default, type, description and readers. tools/gencatalogue generates it.
//
//go:embed catalogue.toml
var catalogueTOML string

// Param types.
const (
	TypeString = "string"
	TypeBool   = "bool"
	TypeInt    = "int"
	TypeTime   = "time"
	TypeSize   = "size"
	TypeList   = "list"
)

// Param describes one main.cf parameter.
type Param struct {
	Name    string `toml:"name"`
	Type    string `toml:"type"` // TypeString, TypeBool, TypeInt, TypeTime, TypeSize or TypeList
	Default string `toml:"default"`
	// PostfixDefault is Postfix's default where postern's differs from it;
	// empty otherwise.
	PostfixDefault string `toml:"postfix_default"`
	Unit           string `toml:"unit"` // time parameters: unit of a bare number (s, m, h, d, w)
	Desc           string `toml:"desc"`
	// Host: the default is computed from the host at run time (myhostname,
	// mydomain, mynetworks); Default is then "".
	Host bool `toml:"host"`
	// Postern: the parameter is postern's own; Postfix does not have it.
	Postern bool `toml:"postern"`
	// ReadOnly: a per-process value (process_id, process_name, service_name)
	// that a configuration cannot set.
	ReadOnly bool     `toml:"read_only"`
	Min      *int64   `toml:"min"` // optional inclusive lower bound
	Max      *int64   `toml:"max"` // optional inclusive upper bound
	Readers  []string `toml:"readers"`
}

// TransportParam describes a family of per-transport parameters: for every
// master.cf transport T, Postfix knows the name T_Suffix (for example
// relay_destination_concurrency_limit) with the default shown.
type TransportParam struct {
	Suffix  string `toml:"suffix"`
	Type    string `toml:"type"`
	Default string `toml:"default"`
	Unit    string `toml:"unit"`
	Desc    string `toml:"desc"`
	// PipeOnly: the name exists only for transports that run pipe(8)
	// (T_time_limit).
	PipeOnly bool `toml:"pipe_only"`
}

type catalogue struct {
	Param          []*Param          `toml:"param"`
	TransportParam []*TransportParam `toml:"transport_param"`
}

var (
	catOnce   sync.Once
	catErr    error
	catSorted []*Param
	catByName map[string]*Param
	catTrans  []*TransportParam
)

// parseCatalogue decodes and checks a catalogue.
func parseCatalogue(text string) (*catalogue, error) {
	var c catalogue
	md, err := toml.Decode(text, &c)
	if err != nil {
		return nil, fmt.Errorf("parameter catalogue: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("parameter catalogue: unknown key %s", und[0])
	}
	return &c, nil
}

// loadCatalogue indexes the compiled catalogue. catalogue_gen.go holds
// catalogue.toml translated to Go (TestCatalogueGenerated keeps the two
// equal; "go test ./pkg/config -run TestCatalogueGenerated -update"
// regenerates it): decoding the TOML took 12 ms, paid by every process at
// start-up (sendmail, postconf, every daemon), while the Go tables cost
// nothing.
func loadCatalogue() {
	c := &catalogue{Param: generatedParams, TransportParam: generatedTransportParams}
	catByName = make(map[string]*Param, len(c.Param))
	for _, p := range c.Param {
		catByName[p.Name] = p
	}
	catSorted = append([]*Param(nil), c.Param...)
	sort.Slice(catSorted, func(i, j int) bool { return catSorted[i].Name < catSorted[j].Name })
	catTrans = c.TransportParam
}

func catalogueLoaded() {
	catOnce.Do(loadCatalogue)
	if catErr != nil {
		// The catalogue is compiled in and checked by the tests; a broken
		// one is a build defect.
		panic(catErr)
	}
}

// Lookup returns the catalogue entry of a main.cf parameter.
// The returned Param is shared; callers must not modify it.
func Lookup(name string) (*Param, bool) {
	catalogueLoaded()
	p, ok := catByName[name]
	return p, ok
}

// Params returns every catalogue entry, sorted by name. The slice is a copy;
// the Params are shared and must not be modified.
func Params() []*Param {
	catalogueLoaded()
	return append([]*Param(nil), catSorted...)
}

// TransportParams returns the per-transport parameter families, in
// catalogue order. The TransportParams are shared and must not be modified.
func TransportParams() []*TransportParam {
	catalogueLoaded()
	return append([]*TransportParam(nil), catTrans...)
}

// LookupTransportParam reports whether name is transport + "_" + a
// per-transport suffix for one of the given master.cf transports, and
// returns the family and the transport. pipeTransports says which of them
// run pipe(8); it may be nil.
func LookupTransportParam(name string, transports []string, pipeTransports map[string]bool) (*TransportParam, string, bool) {
	catalogueLoaded()
	for _, t := range transports {
		if len(name) <= len(t)+1 || name[:len(t)] != t || name[len(t)] != '_' {
			continue
		}
		suffix := name[len(t)+1:]
		for _, tp := range catTrans {
			if tp.Suffix == suffix && (!tp.PipeOnly || pipeTransports[t]) {
				return tp, t, true
			}
		}
	}
	return nil, "", false
}
