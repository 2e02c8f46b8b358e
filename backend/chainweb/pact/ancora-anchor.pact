;; ancora-anchor: Ancora's on-chain anchor registry.
;;
;; Each Ancora batch (a Merkle root over tenants' audit events) is recorded once under its
;; anchor id. The row can never be overwritten, and every record emits an ANCHORED event, so
;; the transaction output (provable with /pact/spv) and the event both carry (id, root).
;;
;; Namespace-free form: to deploy on a public chain, prepend `(namespace "free")` (or your
;; principal namespace) and name the keysets in it (e.g. "free.ancora-anchor-admin"); see
;; README.md. The REPL test loads it as is.

(define-keyset "ancora-anchor-admin" (read-keyset "ancora-anchor-admin"))
(define-keyset "ancora-anchor-operator" (read-keyset "ancora-anchor-operator"))

(module ancora-anchor GOVERNANCE
  @doc "Write-once registry of Ancora Merkle roots, keyed by anchor id."

  (defcap GOVERNANCE ()
    @doc "Upgrades need the admin keyset."
    (enforce-keyset "ancora-anchor-admin"))

  (defcap OPERATOR ()
    @doc "Only Ancora's operator key records anchors, so nobody can squat an anchor id."
    (enforce-keyset "ancora-anchor-operator"))

  (defcap ANCHORED:bool (id:string root:string)
    @doc "Emitted once per recorded anchor."
    @event
    true)

  (defschema anchor
    @doc "One recorded root."
    root:string
    block-time:time
    block-height:integer)

  (deftable anchors:{anchor})

  (defun record-anchor:string (id:string root:string)
    @doc "Records ROOT under ID, once. Fails if ID is already recorded. Returns ROOT."
    (enforce (!= id "") "anchor id must not be empty")
    (enforce (<= (length id) 128) "anchor id is longer than 128 characters")
    (enforce (!= root "") "root must not be empty")
    (with-capability (OPERATOR)
      (with-default-read anchors id
        { 'root: "", 'block-time: (time "1970-01-01T00:00:00Z"), 'block-height: 0 }
        { 'root := existing }
        (enforce (= existing "") (format "anchor {} is already recorded" [id])))
      (insert anchors id
        { 'root: root
        , 'block-time: (at 'block-time (chain-data))
        , 'block-height: (at 'block-height (chain-data)) })
      (emit-event (ANCHORED id root))
      root))

  (defun get-anchor:object{anchor} (id:string)
    @doc "The recorded anchor ID; fails if there is none."
    (read anchors id))
)

(if (read-msg "upgrade")
  "upgrade: table kept"
  (create-table anchors))
