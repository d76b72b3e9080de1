; e2e-gimp2.scm — end-to-end checks of the Generative plug-in in GIMP 2.10,
; calling its procedures as a Script-Fu script does (positional arguments:
; 2.10 has no named ones).  Loaded by e2e-gimp2.sh, which defines e2e-model,
; e2e-vae, e2e-sd, e2e-bad-model, e2e-input, e2e-out.  2.10's batch mode shows no
; `display` output, so every check writes "ok   NAME" or "FAIL NAME: detail"
; to e2e-out/results.txt; the last line is "e2e: P passed, F failed".
;
; Arguments after run-mode, image, drawable (see the procedures' blurbs):
;   generate     model vae scheduler sigmas steps eta seed tile width height
;                prompt negative-prompt guidance
;   denoise      model vae scheduler sigmas steps eta seed tile new-layer noise-level strength mode
;   inpaint      model vae scheduler sigmas steps eta seed tile new-layer jump resample context
;                prompt negative-prompt guidance
;   vary         model vae scheduler sigmas steps eta seed tile new-layer strength
;                prompt negative-prompt guidance
;   vae-reconstruct  model vae seed tile new-layer sample
;   interpolate  model vae scheduler sigmas steps eta seed tile frames
;                → (first-layer num-layers #(layers))
; scheduler: 0 ddim, 1 ddpm, 2 euler, 3 euler_a, 4 heun, 5 dpmpp_2m; sigmas: 0 default, 1 karras, 2 exponential

(define e2e-port (open-output-file (string-append e2e-out "/results.txt")))
(define e2e-passed 0)
(define e2e-failed 0)

(define (say text) (display text e2e-port) (newline e2e-port))

(define (check name ok detail)
  (if ok
      (begin (set! e2e-passed (+ e2e-passed 1)) (say (string-append "ok   " name)))
      (begin (set! e2e-failed (+ e2e-failed 1)) (say (string-append "FAIL " name ": " detail)))))

(define (num x) (number->string x))

; (THUNK)'s value, or ('failed MESSAGE ...) when it raised an error (a
; procedure that returned an error status does); the message is logged.
(define (try thunk)
  (let* ((saved *error-hook*)
         (r (call-with-current-continuation
              (lambda (k)
                (set! *error-hook* (lambda args (k (cons 'failed args))))
                (thunk)))))
    (set! *error-hook* saved)
    (if (and (pair? r) (eq? (car r) 'failed))
        (say (string-append "     error: " (if (string? (cadr r)) (cadr r) "?"))))
    r))
(define (failed? r) (and (pair? r) (eq? (car r) 'failed)))

(define (load-image) (car (gimp-file-load RUN-NONINTERACTIVE e2e-input e2e-input)))
(define (layers img) (cadr (gimp-image-get-layers img)))
(define (first-layer img) (vector-ref (layers img) 0))
(define (n-layers img) (car (gimp-image-get-layers img)))
(define (width d) (car (gimp-drawable-width d)))
(define (height d) (car (gimp-drawable-height d)))

; (mean count) of the value histogram of D under the current selection
(define (hist d)
  (let ((h (gimp-drawable-histogram d HISTOGRAM-VALUE 0.0 1.0)))
    (list (car h) (list-ref h 4))))

; the layer |A − B|, made visible alone: B in difference mode over A
(define (difference img a b)
  (gimp-layer-set-mode b LAYER-MODE-DIFFERENCE)
  (let ((d (car (gimp-layer-new-from-visible img img "difference"))))
    (gimp-image-insert-layer img d 0 0)
    d))

; the first N values of the pixel of D at X, Y (0..255)
(define (pixel d x y n)
  (let ((v (cadr (gimp-drawable-get-pixel d x y))))
    (let loop ((i (- n 1)) (acc '()))
      (if (< i 0) acc (loop (- i 1) (cons (vector-ref v i) acc))))))

; what e2e-inpaint.scm needs (see there)
(define (e2e-try thunk) (try thunk))
(define (offsets d) (gimp-drawable-offsets d))
(define (select-fully channel x y) (gimp-drawable-set-pixel channel x y 1 (vector 255)))
(define (e2e-inpaint img bg model new-layer)
  (try (lambda () (plug-in-generative-inpaint RUN-NONINTERACTIVE img bg
                    model "" 0 0 4 0.0 11 0 new-layer 2 2 16 "" "" 7.5))))

; what e2e-prompt.scm needs (see there)
(define (e2e-generate img model prompt seed)
  (try (lambda () (plug-in-generative-generate RUN-NONINTERACTIVE img (first-layer img)
                    model "" 0 0 3 0.0 seed 0 40 32 prompt "" 7.5))))
(define (e2e-vary img bg model prompt)
  (try (lambda () (plug-in-generative-vary RUN-NONINTERACTIVE img bg
                    model "" 0 0 3 0.0 3 0 TRUE 0.6 prompt "" 7.5))))
(define (e2e-inpaint-prompt img bg model prompt)
  (try (lambda () (plug-in-generative-inpaint RUN-NONINTERACTIVE img bg
                    model "" 0 0 4 0.0 11 0 TRUE 2 2 16 prompt "blurry" 5.0))))
(define (e2e-denoise img bg model)
  (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                    model "" 0 0 30 0.0 0 0 TRUE -1.0 1.0 0 0))))
(define (copy-layer d) (car (gimp-layer-copy d FALSE)))
(define (parasite-text layer)
  (caddr (car (gimp-item-get-parasite layer "generative-settings"))))

(define (save img name)
  (let* ((copy (car (gimp-image-duplicate img)))
         (flat (car (gimp-image-flatten copy)))
         (file (string-append e2e-out "/" name)))
    (gimp-file-save RUN-NONINTERACTIVE copy flat file file)
    (gimp-image-delete copy)))

; ---- soft selections, outpainting, failing calls (shared with 3.0)
(load (string-append e2e-here "/e2e-inpaint.scm"))

; ---- prompts, on the tiny Stable Diffusion pipeline (shared with 3.0)
(load (string-append e2e-here "/e2e-prompt.scm"))

; ---- the procedures are there
(for-each
  (lambda (job)
    (let ((name (string-append "plug-in-generative-" job)))
      (check (string-append "registered " name)
             (= 1 (car (gimp-procedural-db-proc-exists name))) "not in the PDB")))
  '("generate" "denoise" "inpaint" "vary" "vae-reconstruct" "interpolate"))

; ---- denoise, whole layer: a new layer of the layer's size, with the parasite
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                            e2e-model "" 0 0 30 0.0 7 0 TRUE 25.0 1.0 0 0)))))
  (check "denoise succeeds" (not (failed? r)) "it failed")
  (if (not (failed? r))
      (let ((layer (car r)))
        (check "denoise adds one layer" (= (n-layers img) 2) (num (n-layers img)))
        (check "denoise layer size"
               (and (= (width layer) (width bg)) (= (height layer) (height bg)))
               (string-append (num (width layer)) "x" (num (height layer))))
        (say (string-append "     layer name: " (car (gimp-item-get-name layer))))
        (check "denoise layer name has the seed"
               (string=? (car (gimp-item-get-name layer)) "Denoised (seed 7, one step)")
               (car (gimp-item-get-name layer)))
        (check "denoise parasite"
               (> (car (gimp-item-get-parasite-list layer)) 0) "no parasite")
        (check "denoise changed pixels"
               (> (car (hist (difference img bg layer))) 0.0) "difference is zero")
        (save img "denoise.png"))))

; ---- denoise inside a rectangle: the layer covers the selection's bounds
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 10 8 16 12)
  (let ((r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                             e2e-model "" 2 0 3 0.0 3 0 TRUE -1.0 1.0 1 0)))))
    (check "denoise selection succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (let* ((layer (car r)) (off (gimp-drawable-offsets layer)))
          (check "denoise selection size" (and (= (width layer) 16) (= (height layer) 12))
                 (string-append (num (width layer)) "x" (num (height layer))))
          (check "denoise selection offsets" (and (= (car off) 10) (= (cadr off) 8))
                 (string-append (num (car off)) "," (num (cadr off))))))))

; ---- inpaint: changes inside the selection, not one pixel outside
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 12 10 14 10)
  (let ((r (try (lambda () (plug-in-generative-inpaint RUN-NONINTERACTIVE img bg
                             e2e-model "" 0 0 4 0.0 11 0 TRUE 2 2 64 "" "" 7.5)))))
    (check "inpaint succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (let* ((layer (car r))
               (orig (car (gimp-layer-copy bg FALSE)))
               (diff (begin (save img "inpaint.png")
                            (gimp-image-insert-layer img orig 0 0)
                            (difference img layer orig)))
               (inside (hist diff))
               (outside (begin (gimp-selection-invert img) (hist diff))))
          (check "inpaint layer covers the selection"
                 (and (= (width layer) 14) (= (height layer) 10)
                      (equal? (gimp-drawable-offsets layer) '(12 10)))
                 (string-append (num (width layer)) "x" (num (height layer))))
          (check "inpaint parasite names the model"
                 (contains? (caddr (car (gimp-item-get-parasite layer "generative-settings")))
                            (string-append "model=" e2e-model "\n"))
                 "no model= line with the model folder")
          (check "inpaint changes the selection" (> (car inside) 0.0)
                 (string-append "mean difference inside " (num (car inside))))
          (check "inpaint keeps the rest" (and (= (car outside) 0.0) (> (cadr outside) 0))
                 (string-append "mean difference outside " (num (car outside))
                                " over " (num (cadr outside)) " pixels"))))))

; ---- inpaint without a selection is our error, and adds nothing
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-inpaint RUN-NONINTERACTIVE img bg
                            e2e-model "" 0 0 2 0.0 0 0 TRUE 10 10 64 "" "" 7.5)))))
  (check "inpaint without selection fails" (failed? r) "it succeeded")
  (check "inpaint without selection adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- generate: a layer of the requested size
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-generate RUN-NONINTERACTIVE img bg
                            e2e-model "" 5 1 3 0.0 5 0 32 16 "" "" 7.5)))))
  (check "generate succeeds" (not (failed? r)) "it failed")
  (if (not (failed? r))
      (let ((layer (car r)))
        (check "generate adds one layer" (= (n-layers img) 2) (num (n-layers img)))
        (check "generate size" (and (= (width layer) 32) (= (height layer) 16))
               (string-append (num (width layer)) "x" (num (height layer))))
        (save img "generate.png"))))

; ---- out-of-range arguments: a calling error, nothing added
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-generate RUN-NONINTERACTIVE img bg
                            e2e-model "" 9 0 3 0.0 5 0 32 16 "" "" 7.5)))))
  (check "scheduler 9 fails" (failed? r) "it succeeded")
  (check "scheduler 9 adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- vary, in place: no new layer, pixels change
(let* ((img (load-image)) (bg (first-layer img))
       (orig (car (gimp-layer-copy bg FALSE)))
       (r (try (lambda () (plug-in-generative-vary RUN-NONINTERACTIVE img bg
                            e2e-model "" 0 0 3 0.0 0 0 FALSE 0.4 "" "" 7.5)))))
  (check "vary succeeds" (not (failed? r)) "it failed")
  (check "vary in place adds no layer" (= (n-layers img) 1) (num (n-layers img)))
  (gimp-image-insert-layer img orig 0 0)
  (check "vary in place changed pixels" (> (car (hist (difference img bg orig))) 0.0)
         "difference is zero"))

; ---- VAE round trip in a selection, with the VAE folder as the model
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 8 8 16 16)
  (let ((r (try (lambda () (plug-in-generative-vae-reconstruct RUN-NONINTERACTIVE img bg
                             e2e-vae "" 0 0 TRUE FALSE)))))
    (check "vae succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (let ((layer (car r)))
          (check "vae layer size" (and (= (width layer) 16) (= (height layer) 16))
                 (string-append (num (width layer)) "x" (num (height layer))))
          (save img "vae.png")))))

; ---- interpolate: from the layer below the active one to it, one layer per frame
(let* ((img (load-image)) (bg (first-layer img))
       (top (car (gimp-layer-copy bg FALSE))))
  (gimp-image-insert-layer img top 0 0)
  (gimp-drawable-invert top FALSE)
  (let ((r (try (lambda () (plug-in-generative-interpolate RUN-NONINTERACTIVE img top
                             e2e-model "" 0 0 3 0.0 0 0 3)))))
    (check "interpolate succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (begin
          (check "interpolate returns the frames"
                 (and (= (cadr r) 3) (= (vector-length (caddr r)) 3)
                      (= (car r) (vector-ref (caddr r) 0)))
                 (num (cadr r)))
          (check "interpolate adds the frames" (= (n-layers img) 5) (num (n-layers img)))
          (check "interpolate frame size" (= (width (vector-ref (caddr r) 2)) (width bg))
                 (num (width (vector-ref (caddr r) 2))))
          (save img "interpolate.png")))))

; ---- interpolate with no layer below: our error
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-interpolate RUN-NONINTERACTIVE img bg
                            e2e-model "" 0 0 3 0.0 0 0 3)))))
  (check "interpolate with one layer fails" (failed? r) "it succeeded")
  (check "interpolate with one layer adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- grayscale 16-bit with alpha
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-convert-grayscale img)
  (gimp-image-convert-precision img PRECISION-U16-GAMMA)
  (gimp-layer-add-alpha bg)
  (let ((r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                             e2e-model "" 0 0 30 0.0 0 0 TRUE -1.0 1.0 0 0)))))
    (check "gray 16-bit denoise succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (let ((layer (car r)))
          (check "gray 16-bit denoise" (and (= (width layer) (width bg))
                                            (= 1 (car (gimp-drawable-is-gray layer))))
                 "wrong size or not gray")
          (save img "gray16.png")))))

; ---- indexed: our message, nothing added
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE "")
  (let ((r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                             e2e-model "" 0 0 30 0.0 0 0 TRUE -1.0 1.0 0 0)))))
    (check "indexed fails" (failed? r) "it succeeded")
    (check "indexed adds nothing" (= (n-layers img) 1) (num (n-layers img)))))

; ---- a folder that is not a model: an error, the image unchanged
(let* ((img (load-image)) (bg (first-layer img))
       (dirty (car (gimp-image-is-dirty img)))
       (before (gimp-drawable-histogram bg HISTOGRAM-VALUE 0.0 1.0))
       (r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                            e2e-bad-model "" 0 0 30 0.0 0 0 FALSE -1.0 1.0 0 0)))))
  (check "bad model fails" (failed? r) "it succeeded")
  (check "bad model adds nothing" (= (n-layers img) 1) (num (n-layers img)))
  (check "bad model leaves the pixels"
         (equal? before (gimp-drawable-histogram bg HISTOGRAM-VALUE 0.0 1.0))
         "the histogram changed")
  (check "bad model leaves the dirty state" (= dirty (car (gimp-image-is-dirty img)))
         (string-append "dirty " (num dirty) " -> " (num (car (gimp-image-is-dirty img))))))

; ---- no model folder and no installed default: an error naming the default's path
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                            "" "" 0 0 30 0.0 0 0 TRUE -1.0 1.0 0 0)))))
  (check "missing default model fails" (failed? r) "it succeeded")
  (check "missing default model adds nothing" (= (n-layers img) 1) (num (n-layers img))))

; ---- bad input: 1×1 layers.  Each job either makes a 1×1 result or fails
; with its message; the layer is left as it was either way.
(for-each
  (lambda (job)
    (let* ((img (car (gimp-image-new 1 1 RGB)))
           (px (car (gimp-layer-new img 1 1 RGB-IMAGE "px" 100 LAYER-MODE-NORMAL)))
           (before (begin (gimp-image-insert-layer img px 0 0)
                          (gimp-drawable-fill px FILL-WHITE)
                          (gimp-drawable-histogram px HISTOGRAM-VALUE 0.0 1.0)))
           (r (try (lambda ()
                (cond ((string=? job "denoise")
                       (plug-in-generative-denoise RUN-NONINTERACTIVE img px
                         e2e-model "" 0 0 30 0.0 0 0 TRUE 25.0 1.0 0 0))
                      ((string=? job "vary")
                       (plug-in-generative-vary RUN-NONINTERACTIVE img px
                         e2e-model "" 0 0 2 0.0 0 0 TRUE 0.5 "" "" 7.5))
                      (else
                       (plug-in-generative-vae-reconstruct RUN-NONINTERACTIVE img px
                         e2e-vae "" 0 0 TRUE FALSE)))))))
      (say (string-append "     1x1 " job ": " (if (failed? r) "refused" "done")))
      (check (string-append "1x1 " job ": a 1x1 layer or nothing")
             (if (failed? r)
                 (= (n-layers img) 1)
                 (and (= (n-layers img) 2) (= (width (car r)) 1) (= (height (car r)) 1)))
             (num (n-layers img)))
      (check (string-append "1x1 " job " leaves the layer")
             (equal? before (gimp-drawable-histogram px HISTOGRAM-VALUE 0.0 1.0)) "it changed")
      (gimp-image-delete img)))
  '("denoise" "vary" "vae"))

; ---- bad input: a 10000×10000 layer.  Inpaint reads the selection and its
; context only and writes a new layer of the selection's size (or fails
; with its message).  The layer is left as it was.
(let* ((img (car (gimp-image-new 10000 10000 RGB)))
       (big (car (gimp-layer-new img 10000 10000 RGB-IMAGE "big" 100 LAYER-MODE-NORMAL)))
       (before (begin (gimp-image-insert-layer img big 0 0)
                      ; white with a black block: a fill of 100 MP (a dithered
                      ; gradient takes minutes in GIMP 3.0)
                      (gimp-drawable-fill big FILL-WHITE)
                      (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 3000 2000 4000 5000)
                      (gimp-context-set-foreground '(0 0 0))
                      (gimp-drawable-edit-fill big FILL-FOREGROUND)
                      (gimp-selection-none img)
                      (gimp-drawable-histogram big HISTOGRAM-VALUE 0.0 1.0)))
       (sel (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 4990 4990 24 20))
       (r (try (lambda () (plug-in-generative-inpaint RUN-NONINTERACTIVE img big
                            e2e-model "" 0 0 2 0.0 0 0 TRUE 1 1 64 "" "" 7.5)))))
  (say (string-append "     10000x10000 inpaint: " (if (failed? r) "refused" "done")))
  (check "10000x10000 inpaint: a layer over the selection or nothing"
         (if (failed? r)
             (= (n-layers img) 1)
             (and (= (n-layers img) 2) (= (width (car r)) 24) (= (height (car r)) 20)))
         (num (n-layers img)))
  (gimp-selection-none img)
  (check "10000x10000 inpaint leaves the layer"
         (equal? before (gimp-drawable-histogram big HISTOGRAM-VALUE 0.0 1.0)) "it changed")
  (gimp-image-delete img))

; ---- and after all that, GIMP and the plug-in still work
(let* ((img (load-image)) (bg (first-layer img))
       (r (try (lambda () (plug-in-generative-denoise RUN-NONINTERACTIVE img bg
                            e2e-model "" 0 0 30 0.0 0 0 TRUE 25.0 1.0 0 0)))))
  (check "denoise after the bad input" (not (failed? r)) "it failed")
  (check "denoise after the bad input adds a layer" (= (n-layers img) 2) (num (n-layers img))))

(say (string-append "e2e: " (num e2e-passed) " passed, " (num e2e-failed) " failed"))
(close-output-port e2e-port)
