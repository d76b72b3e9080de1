;; e2e-inpaint.scm — the inpaint checks GIMP 2.10 and 3.0 share: soft
;; selections, outpainting, failing calls.  Loaded by e2e-gimp2.scm and
;; e2e-gimp3.scm after they define what differs between the two GIMPs:
;;   (e2e-inpaint IMG LAYER MODEL NEW-LAYER)  inpaint, 4 steps, seed 11,
;;                                            context 16; its result, or a
;;                                            failure (failed?)
;;   (e2e-try THUNK) (failed? R)             a call that may fail
;;   (pixel D X Y N) (select-fully CHANNEL X Y) (offsets D)
;; and check, say, num, load-image, first-layer, n-layers, width, height,
;; hist, save, e2e-model, e2e-empty-folder.

; TRUE when SUB occurs in TEXT
(define (contains? text sub)
  (let loop ((i 0))
    (cond ((> (+ i (string-length sub)) (string-length text)) #f)
          ((string=? (substring text i (+ i (string-length sub))) sub) #t)
          (else (loop (+ i 1))))))

; the value histogram of D over all of it, the selection kept
(define (whole-hist img d)
  (let ((saved (car (gimp-selection-save img))))
    (gimp-selection-none img)
    (let ((h (gimp-drawable-histogram d HISTOGRAM-VALUE 0.0 1.0)))
      (gimp-image-select-item img CHANNEL-OP-REPLACE saved)
      (gimp-image-remove-channel img saved)
      h)))

; TRUE when D's alpha is full under the selection (the mean is on 0..255
; in 2.10)
(define (opaque? d)
  (let ((mean (car (gimp-drawable-histogram d HISTOGRAM-ALPHA 0.0 1.0))))
    (or (= mean 255.0) (= mean 1.0))))

; A binary selection of the support of the selection (every pixel above
; 0 fully selected), set pixel by pixel: GIMP's filters on masks work in
; another space.  W×H at X0, Y0 are the selection's bounds.
(define (select-support img x0 y0 w h)
  (let ((hard (car (gimp-selection-save img))))
    (do ((y y0 (+ y 1))) ((= y (+ y0 h)))
      (do ((x x0 (+ x 1))) ((= x (+ x0 w)))
        (if (> (car (pixel hard x y 1)) 0) (select-fully hard x y))))
    (gimp-image-select-item img CHANNEL-OP-REPLACE hard)))

; ---- inpaint through a feathered ellipse: the layer covers the selection's
; bounds, pixels the selection leaves out stay exactly, and inside the fill
; shows as much as the selection says.  The fill itself is the one a hard
; selection of the same support gives (same seed, same region), so each
; pixel must be original + selection × (hard fill − original), to 8-bit
; rounding.
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 8 6 24 20)
  (gimp-selection-feather img 12)
  (let* ((soft (car (gimp-selection-save img)))
         (bounds (cdr (gimp-selection-bounds img)))
         (x0 (car bounds)) (y0 (cadr bounds))
         (w (- (caddr bounds) x0)) (h (- (list-ref bounds 3) y0))
         (r1 (e2e-inpaint img bg e2e-model TRUE))
         (r2 (begin (select-support img x0 y0 w h) (e2e-inpaint img bg e2e-model TRUE))))
    (check "feathered inpaint succeeds" (not (or (failed? r1) (failed? r2))) "it failed")
    (if (not (or (failed? r1) (failed? r2)))
        (let ((soft-layer (car r1)) (hard-layer (car r2))
              (worst 0) (outside 0) (outside-changed 0) (partial 0))
          (check "feathered inpaint layer = selection bounds"
                 (and (= (width soft-layer) w) (= (height soft-layer) h)
                      (equal? (offsets soft-layer) (list x0 y0)))
                 (string-append (num (width soft-layer)) "x" (num (height soft-layer))))
          (do ((y 0 (+ y 1))) ((= y h))
            (do ((x 0 (+ x 1))) ((= x w))
              (let ((s (/ (car (pixel soft (+ x0 x) (+ y0 y) 1)) 255.0))
                    (o (pixel bg (+ x0 x) (+ y0 y) 3))
                    (a (pixel soft-layer x y 3))
                    (b (pixel hard-layer x y 3)))
                (if (= s 0)
                    (begin (set! outside (+ outside 1))
                           (if (not (equal? a o)) (set! outside-changed (+ outside-changed 1))))
                    (begin
                      (if (< s 1) (set! partial (+ partial 1)))
                      (for-each (lambda (oc ac bc)
                                  (set! worst (max worst (abs (- ac (+ oc (* s (- bc oc))))))))
                                o a b))))))
          (say (string-append "     feathered inpaint: " (num partial) " partly selected, "
                              (num outside) " unselected pixels in the bounds, worst blend "
                              "error " (num worst)))
          (check "feathered inpaint keeps unselected pixels exactly"
                 (and (> outside 0) (= outside-changed 0))
                 (string-append (num outside-changed) " of " (num outside) " changed"))
          (check "feathered inpaint has a soft edge" (> partial 20) (num partial))
          (check "feathered inpaint blends as the selection says" (<= worst 1.5)
                 (string-append "worst " (num worst) " levels"))
          (save img "inpaint-feathered.png")))))

; ---- outpainting: after Image > Canvas Size (layers kept), the new area
; selected and filled on a new layer of its size, opaque
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-resize img 56 32 0 0)
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 40 0 16 32)
  (let ((r (e2e-inpaint img bg e2e-model TRUE)))
    (check "outpaint succeeds" (not (failed? r)) "it failed")
    (if (not (failed? r))
        (begin
          (check "outpaint layer covers the new area"
                 (and (= (width (car r)) 16) (= (height (car r)) 32)
                      (equal? (offsets (car r)) '(40 0)))
                 (string-append (num (width (car r))) "x" (num (height (car r)))))
          (check "outpaint fills the new area opaque" (opaque? (car r)) "not opaque")
          (check "outpaint fills it with something" (> (cadr (hist (car r))) 0.0)
                 "no variation")
          (save img "outpaint.png")))))

; ---- outpainting in place: the layer resized to the canvas (transparent
; there), the new area filled in the layer itself
(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-resize img 40 48 0 0)
  (gimp-layer-add-alpha bg)
  (gimp-layer-resize-to-image-size bg)
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 32 40 16)
  (let ((r (e2e-inpaint img bg e2e-model FALSE)))
    (check "outpaint in place succeeds" (not (failed? r)) "it failed")
    (check "outpaint in place adds no layer" (= (n-layers img) 1) (num (n-layers img)))
    (check "outpaint in place fills the transparent area" (opaque? bg) "not opaque")))

; ---- failing calls: our message (in the log), the image as it was
(define (untouched-after name img bg thunk)
  (let* ((dirty (car (gimp-image-is-dirty img)))
         (before (whole-hist img bg))
         (r (e2e-try thunk)))
    (check (string-append name " fails") (failed? r) "it succeeded")
    (check (string-append name " adds nothing") (= (n-layers img) 1) (num (n-layers img)))
    (check (string-append name " leaves the pixels") (equal? before (whole-hist img bg))
           "changed")
    (check (string-append name " leaves the dirty state")
           (= dirty (car (gimp-image-is-dirty img))) "changed")))

(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 4 4 8 8)
  (untouched-after "a folder that is not a model" img bg
    (lambda () (e2e-inpaint img bg e2e-empty-folder FALSE))))

(let* ((img (load-image)) (bg (first-layer img)))
  (gimp-image-resize img 80 32 0 0)
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 50 4 8 8)
  (untouched-after "inpaint in place beside the layer" img bg
    (lambda () (e2e-inpaint img bg e2e-model FALSE))))

